"""ML's own state as evidence of its errors: a logistic regression of "ML's output is wrong" on ML's
final state where it predicts its output's first token, beside its log p, fit on held-out contexts
only (contexts ML never trained on, like the ones a round and `ida eval` meet).

The adversary network reads ML's input and output and learns on the contexts ML trained on, where
ML's errors are those of a model that has seen them; on fresh contexts it ranked ML's errors within
0.002 of ML's own confidence (permutation above, assignments below). ML's state already holds what
ML made of the question, and a linear read of it on fresh contexts separates right from wrong where
log p does not (permutation +0.009; bench/probes/hidden.py, bench/RESULTS.md). Stored as plain
lists: checkpoints load with weights_only=True."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MIN_NODES = 200  # held-out nodes of one kind, with both outcomes, for a probe of that kind
FOLDS = 5
C = 0.1  # strong L2: a probe reads 128+ numbers from a few hundred to a few thousand nodes


def features(states: np.ndarray, logps: np.ndarray) -> np.ndarray:
    lp = np.asarray(logps, dtype=float)
    return np.concatenate(
        [np.asarray(states, dtype=float), lp[:, None], np.log(-np.minimum(lp, 0.0) + 1e-6)[:, None]], axis=1
    )


@dataclass
class StateProbe:
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    @classmethod
    def fit(cls, states: np.ndarray, logps: np.ndarray, errors: np.ndarray) -> StateProbe | None:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(errors, dtype=bool)
        if len(y) < 10 or y.all() or not y.any():
            return None
        x = features(states, logps)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        lr = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
        return cls(mean.tolist(), scale.tolist(), lr.coef_[0].tolist(), float(lr.intercept_[0]))

    def logit(self, states: np.ndarray, logps: np.ndarray) -> np.ndarray:
        """log-odds that ML is wrong, one per row."""
        x = (features(states, logps) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(x @ np.asarray(self.coef) + self.intercept, dtype=float)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> StateProbe:
        return cls(list(payload["mean"]), list(payload["scale"]), list(payload["coef"]), payload["intercept"])


def cross_fit(
    states: np.ndarray, logps: np.ndarray, errors: np.ndarray, groups: np.ndarray
) -> np.ndarray | None:
    """Out-of-fold probe logits: each node's from a probe fit on other contexts' nodes only, so that
    the calibration stack on top of them is fit on what the probe does on contexts it has not seen.
    None when there are too few nodes or contexts, or one outcome only."""
    y = np.asarray(errors, dtype=bool)
    g = np.asarray(groups)
    if len(y) < MIN_NODES or y.all() or not y.any() or len(np.unique(g)) < FOLDS:
        return None
    from sklearn.model_selection import GroupKFold

    out = np.zeros(len(y))
    for train, test in GroupKFold(FOLDS).split(states, y, g):
        probe = StateProbe.fit(states[train], logps[train], y[train])
        if probe is None:
            return None
        out[test] = probe.logit(states[test], logps[test])
    return out
