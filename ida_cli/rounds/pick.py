"""Which questions a round amplifies (docs/spec.md §2, the proposal's step 1). `--pick random` draws them
uniformly from the unlabelled pool (in ida_cli/rounds/run.py); `--pick adversary`, here, scores a
random candidate set of them and draws where ML is predicted to fail."""

from __future__ import annotations

from typing import Any

import numpy as np

from ida_cli.walk.ports import ML, Scorer
from ida_cli.walk.strategies import gumbel_top_k

# --pick adversary scores this many random candidates per picked question, and at least the floor
PICK_CANDIDATES_PER_QUESTION = 20
PICK_CANDIDATES_MIN = 2000
PICK_CHUNK = 4096  # candidates per batched ML / adversary call


def pick_by_adversary(
    candidates: list[dict[str, Any]],
    k: int,
    temperature: float,
    rng: np.random.Generator,
    ml: ML,
    scorer: Scorer,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`--pick adversary` (docs/spec.md §2): ML answers every candidate question and the adversary scores
    the answers (batched), then Gumbel-top-k over −S/τ picks k of them, so the round goes where ML
    is predicted to fail. Returns the picked rows in question-id order and what the round's params
    keep of the pick."""
    scores: list[float] = []
    for at in range(0, len(candidates), PICK_CHUNK):
        chunk = candidates[at : at + PICK_CHUNK]
        answers = ml.answer([(r["context"], r["question"]) for r in chunk])
        scores += scorer.score(
            [(r["context"], r["question"], a) for r, (a, _) in zip(chunk, answers, strict=True)],
            [lp for _, lp in answers],
        )
    s = np.asarray(scores, dtype=float)
    chosen = gumbel_top_k(s, k, temperature, rng)
    picked = sorted(chosen, key=lambda i: int(candidates[i]["id"]))
    info = {
        "pick_candidates": len(candidates),
        "pick_score_mean": float(s[chosen].mean()) if chosen else None,
        "candidates_score_mean": float(s.mean()) if len(s) else None,
    }
    return [candidates[i] for i in picked], info
