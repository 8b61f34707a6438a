"""The primed overseer's threshold following the adversary's measured quality (`ida experiment
--prime-error E`, docs/spec.md §2.3).

With a fixed α', H' takes ML's step wherever the score S of that step is above α', however well
the score separates ML's right steps from its wrong ones. Here α' is chosen again after every
adversary fit, on held-out nodes the calibration did not see: the lowest threshold at which the
steps H' would take have a measured error rate of at most E. A sharper adversary (or, for the
uncertainty baseline, a sharper ML log p) lets H' take more steps at the same error; a poor one
leaves them to the overseer. The 2018 paper lowers the rate of real overseer transcripts as its
learned asker's validation loss falls; this is the same idea with the adversary as the judge."""

from __future__ import annotations

from typing import Any

import numpy as np

STEP_KINDS = ("fan_out", "fan_in")  # the steps H' may take over (answers are never primed)
MIN_STEPS = 50  # held-out steps, with both outcomes possible, before a threshold is chosen
NEVER = 0.0  # S lies in [−1, 0] and log p ≤ 0: above 0, no step qualifies


def threshold(scores: np.ndarray, wrong: np.ndarray, max_error: float) -> float:
    """The α' at which the steps scored above it have an error rate of at most `max_error`, taking
    as many as that allows; NEVER if none qualifies. Equal scores are taken or left together."""
    scores, wrong = np.asarray(scores, dtype=float), np.asarray(wrong, dtype=bool)
    values, inverse = np.unique(-scores, return_inverse=True)  # best score first
    taken = np.cumsum(np.bincount(inverse, minlength=len(values)))
    errors = np.cumsum(np.bincount(inverse, weights=wrong.astype(float), minlength=len(values)))
    ok = np.flatnonzero(errors <= max_error * taken)
    if not len(ok):
        return NEVER
    k = int(ok[-1])
    lowest = -values[k]
    nxt = -values[k + 1] if k + 1 < len(values) else lowest - 1.0
    return float((lowest + nxt) / 2)  # between the last score taken and the first one left


def choose(held: dict[str, Any], strategy: str, max_error: float) -> float | None:
    """α' for the next round from an adversary fit's held-out nodes (`adversary.train.fit`'s
    "held"): by the adversary's S = −P(wrong), or by ML's log p for the uncertainty baseline (which
    never reads the adversary). None when there are too few held-out steps to judge by."""
    steps = np.isin(np.asarray(held["kind"]), STEP_KINDS)
    if steps.sum() < MIN_STEPS:
        return None
    scores = np.asarray(held["logp"] if strategy == "uncertainty" else -np.asarray(held["p"]))[steps]
    return threshold(scores, np.asarray(held["wrong"])[steps], max_error)
