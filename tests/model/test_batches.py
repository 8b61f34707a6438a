"""Cutting packed sequences into batches: every sequence once, full batches, and with by_length
batches of similar lengths (ida_cli.model.batch.batches)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.model.batch import BUCKET_POOL, Example, batches
from tests.helpers import Run


def seqs_of(lengths: list[int]) -> list[list[Example]]:
    return [[Example(i, [], [5] * n, [6])] for i, n in enumerate(lengths)]


def length(seq: list[Example]) -> int:
    return sum(len(ex.inp) + len(ex.out) for ex in seq)


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 200), max_size=300),
    batch=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    by_length=st.booleans(),
)
def test_every_sequence_once_in_full_batches(
    lengths: list[int], batch: int, seed: int, by_length: bool
) -> None:
    seqs = seqs_of(lengths)
    full, left = batches(seqs, batch, np.random.default_rng(seed), by_length)
    assert all(len(b) == batch for b in full) and len(left) < batch
    seen = sorted(id(s) for b in [*full, left] for s in b)
    assert seen == sorted(id(s) for s in seqs)
    if not by_length:  # the order they came in, cut in slices
        assert [s for b in full for s in b] + left == seqs


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 500), min_size=2, max_size=8 * BUCKET_POOL), seed=st.integers(0, 2**16)
)
def test_batches_of_one_pool_hold_neighbouring_lengths(lengths: list[int], seed: int) -> None:
    full, left = batches(seqs_of(lengths), 8, np.random.default_rng(seed))
    spans = [(min(map(length, b)), max(map(length, b))) for b in [*full, left] if b]
    for i, (lo1, hi1) in enumerate(spans):
        for lo2, hi2 in spans[i + 1 :]:
            assert hi1 <= lo2 or hi2 <= lo1  # the ranges of lengths never interleave


def test_by_length_cuts_padding_on_a_mixed_set() -> None:
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.choice([4, 60], size=640)]  # short answers, long fan-ins
    seqs = seqs_of(lengths)

    def padded(bs: list[list[list[Example]]]) -> int:
        return sum(max(map(length, b)) * len(b) for b in bs)

    plain, _ = batches(seqs, 64, np.random.default_rng(1), by_length=False)
    by_length, _ = batches(seqs, 64, np.random.default_rng(1))
    ranked = sorted(len(s[0].inp) + 1 for s in seqs)  # one pool: the least padding there is
    assert padded(by_length) == sum(max(ranked[i : i + 64]) * 64 for i in range(0, 640, 64))
    assert padded(by_length) < 0.65 * padded(plain)


def test_train_model_bucket_flag_reaches_the_training_config(ida: Run, db: Path) -> None:
    import torch

    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "40", "--split", "eval")
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "200", "--seed", "1")
    args = ["train", "model", "--supervised", "--layers", "1", "--width", "32", "--batch", "8"]
    r = ida(*args, "--eval-every", "5", "--max-steps", "10", "--bucket", "--json")
    assert r.code == 0, r.stderr
    assert r.json()["metrics"]["steps"] == 10
    payload = torch.load(r.json()["checkpoint"], weights_only=True)
    assert payload["train_config"]["bucket"] is True
