"""The primed overseer's threshold following the adversary's measured quality (`ida experiment
--prime-error E`, docs/spec.md §2.3).

With a fixed α', H' takes ML's step wherever the score S of that step is above α', however well
the score separates ML's right steps from its wrong ones, and however little has been seen. Here
α' is chosen again after every adversary fit, on its held-out nodes: the lowest threshold at which
the one-sided 95% upper bound (Wilson) on the error rate of the steps H' would take is at most E.
Few held-out steps give a loose bound, so H' takes little; more evidence of a sharp adversary (or,
for the uncertainty baseline, of a sharp ML log p) lets it take more. The 2018 paper lowers the
rate of real overseer transcripts as its learned asker's validation loss falls; this is the same
idea with the adversary's held-out record as the judge."""

from __future__ import annotations

from typing import Any

import numpy as np

STEP_KINDS = ("fan_out", "fan_in")  # the steps H' may take over (answers are never primed)
NEVER = 0.0  # S lies in [−1, 0] and log p ≤ 0: above 0, no step qualifies
Z = 1.645  # one-sided 95%


def upper_bound(wrong: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The Wilson score upper bound on an error rate, for `wrong` errors among `taken` steps."""
    n = np.maximum(np.asarray(taken, dtype=float), 1.0)
    rate = np.asarray(wrong, dtype=float) / n
    centre = rate + Z * Z / (2 * n)
    spread = Z * np.sqrt(rate * (1 - rate) / n + Z * Z / (4 * n * n))
    return np.asarray((centre + spread) / (1 + Z * Z / n))


def threshold(scores: np.ndarray, wrong: np.ndarray, max_error: float) -> float:
    """The α' at which the steps scored above it have an error rate whose upper bound is at most
    `max_error`, taking as many as that allows; NEVER if none qualifies. Equal scores are taken
    or left together."""
    scores, wrong = np.asarray(scores, dtype=float), np.asarray(wrong, dtype=bool)
    if not len(scores):
        return NEVER
    values, inverse = np.unique(-scores, return_inverse=True)  # best score first
    taken = np.cumsum(np.bincount(inverse, minlength=len(values)))
    errors = np.cumsum(np.bincount(inverse, weights=wrong.astype(float), minlength=len(values)))
    ok = np.flatnonzero(upper_bound(errors, taken) <= max_error)
    if not len(ok):
        return NEVER
    k = int(ok[-1])
    lowest = -values[k]
    nxt = -values[k + 1] if k + 1 < len(values) else lowest - 1.0
    return float((lowest + nxt) / 2)  # between the last score taken and the first one left


def choose(held: dict[str, Any], strategy: str, max_error: float) -> float:
    """α' for the next round from an adversary fit's held-out nodes (`adversary.train.fit`'s
    "held"): by the adversary's S = −P(wrong), or by ML's log p for the uncertainty baseline (which
    never reads the adversary)."""
    steps = np.isin(np.asarray(held["kind"]), STEP_KINDS)
    scores = np.asarray(held["logp"] if strategy == "uncertainty" else -np.asarray(held["p"]))[steps]
    return threshold(scores, np.asarray(held["wrong"])[steps], max_error)
