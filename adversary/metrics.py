"""How good an adversary is at predicting ML's errors (docs/spec.md §5): AUROC of −S, calibration error."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def auroc(scores: ArrayLike, errors: ArrayLike) -> float | None:
    """AUROC of −S for "ML's answer is wrong"; None when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(errors, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, -np.asarray(scores, dtype=float)))


def calibration_error(p_error: ArrayLike, errors: ArrayLike, bins: int = 10) -> float:
    """Expected calibration error of predicted error probabilities, equal-width bins."""
    p = np.clip(np.asarray(p_error, dtype=float), 0.0, 1.0)
    y = np.asarray(errors, dtype=float)
    if len(p) == 0:
        return 0.0
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(total)


def brier(p_error: ArrayLike, errors: ArrayLike) -> float:
    p, y = np.asarray(p_error, dtype=float), np.asarray(errors, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else 0.0


def weighted_auroc(scores: ArrayLike, errors: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """AUROC of −S for "wrong" under each row of `weights` (shape (B, n)); ties count a half.
    Sorted once for every weighting, so a bootstrap of B resamples costs one sort, not B."""
    s = -np.asarray(scores, dtype=float)
    y = np.asarray(errors, dtype=bool)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    order = np.argsort(s, kind="stable")
    s, y, w = s[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # blocks of tied scores
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * ~y, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negative weight strictly below each block
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    den = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def auroc_gap(
    scores: ArrayLike,
    baseline: ArrayLike,
    errors: ArrayLike,
    groups: ArrayLike,
    rng: np.random.Generator,
    resamples: int = 1000,
    level: float = 0.95,
) -> tuple[float, float, float] | None:
    """AUROC(scores) − AUROC(baseline) on the same nodes, with a paired bootstrap interval that
    resamples whole groups: the nodes of one context share its failure modes, so resampling nodes
    alone would make a few hundred contexts look like tens of thousands of independent draws.
    None when only one class is present."""
    y = np.asarray(errors, dtype=bool)
    if y.all() or not y.any():
        return None
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(g.max()) + 1
    a, b = np.asarray(scores, dtype=float), np.asarray(baseline, dtype=float)
    gap = float(weighted_auroc(a, y, np.ones(len(y)))[0] - weighted_auroc(b, y, np.ones(len(y)))[0])
    diffs: list[np.ndarray] = []
    for start in range(0, resamples, 100):  # chunks keep the weight matrix small
        k = min(100, resamples - start)
        draws = rng.integers(0, n_groups, (k, n_groups))
        counts = np.stack([np.bincount(d, minlength=n_groups) for d in draws])
        w = counts[:, g]
        diffs.append(weighted_auroc(a, y, w) - weighted_auroc(b, y, w))
    d = np.concatenate(diffs)
    d = d[~np.isnan(d)]
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return gap, float(lo), float(hi)
