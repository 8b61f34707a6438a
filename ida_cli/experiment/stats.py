"""Intervals over seeds: a percentile bootstrap of a mean, and of the ratio of two strategies'
means (each strategy's runs resampled on their own). Pure functions over lists, with an explicit
generator, so a report is the same every time it is drawn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RESAMPLES = 4000
LEVEL = 0.95


def _generator(seed: int) -> Any:
    import numpy as np

    return np.random.default_rng(seed)


def mean_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float] | None:
    """The 95% percentile-bootstrap interval of the mean; None for fewer than two values."""
    import numpy as np

    if len(values) < 2:
        return None
    x = np.asarray(values, dtype=float)
    draws = x[_generator(seed).integers(0, len(x), size=(RESAMPLES, len(x)))].mean(axis=1)
    lo, hi = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def ratio_interval(
    top: Sequence[float], bottom: Sequence[float], seed: int = 0
) -> tuple[float, float | None, float | None] | None:
    """mean(top) / mean(bottom) and its 95% bootstrap interval; None where either side is empty,
    and no interval (None, None) from a single run on each side."""
    import numpy as np

    if not top or not bottom:
        return None
    t, b = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    ratio = float(t.mean() / b.mean())
    if len(t) < 2 and len(b) < 2:
        return ratio, None, None
    rng = _generator(seed)
    tm = t[rng.integers(0, len(t), size=(RESAMPLES, len(t)))].mean(axis=1)
    bm = b[rng.integers(0, len(b), size=(RESAMPLES, len(b)))].mean(axis=1)
    lo, hi = np.quantile(tm / bm, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return ratio, float(lo), float(hi)
