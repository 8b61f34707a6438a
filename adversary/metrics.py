"""How good an adversary is at predicting ML's errors (SPEC 5): AUROC of −S, calibration error."""

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
