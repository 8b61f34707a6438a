"""The online learner's batch split by length (batch.length_groups, train.split_loss): every drawn
sequence in exactly one sub-batch, and the same loss and gradient as the whole padded batch."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.model.batch import Example, collate, length_groups, seq_length, shortest_first
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.train import batch_loss, split_loss


def cost(lengths: list[int], groups: list[list[int]], overhead: int) -> int:
    return sum(len(g) * max(lengths[i] for i in g) + overhead for g in groups)


@settings(max_examples=80, deadline=None)
@given(lengths=st.lists(st.integers(1, 300), max_size=40), overhead=st.integers(0, 1000))
def test_groups_hold_every_index_once_and_cost_no_more_than_one_batch(
    lengths: list[int], overhead: int
) -> None:
    groups = length_groups(lengths, overhead)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(g for g in groups)
    if lengths:
        assert cost(lengths, groups, overhead) <= cost(lengths, [list(range(len(lengths)))], overhead)


def test_groups_split_only_when_padding_outweighs_the_overhead() -> None:
    lengths = [10, 200, 12, 190]
    assert length_groups(lengths, 10_000) == [[0, 2, 3, 1]]  # one group, shortest first
    assert sorted(map(sorted, length_groups(lengths, 16))) == [[0, 2], [1, 3]]


def mixed_batch(rng: np.random.Generator) -> list[list[Example]]:
    seqs = []
    for g in range(12):
        n_q = int(rng.integers(1, 5))
        slots = [[int(x)] for x in rng.integers(10, 30, size=int(rng.integers(2, 6)))]
        seqs.append(
            [
                Example(
                    g,
                    slots,
                    [int(x) for x in rng.integers(10, 30, size=int(rng.integers(1, 25)))],
                    [int(x) for x in rng.integers(10, 30, size=int(rng.integers(1, 4)))],
                    slot=int(rng.integers(-1, 2)),
                )
                for _ in range(n_q)
            ]
        )
    return seqs


def test_split_loss_is_the_whole_batch_loss_and_gradient() -> None:
    torch.manual_seed(0)
    net = Net(ModelConfig(vocab_size=32, width=32, heads=2, layers=2))
    seqs = mixed_batch(np.random.default_rng(3))
    whole = batch_loss(net, collate(seqs), 1.0)
    whole.backward()
    expected = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    net.zero_grad(set_to_none=True)
    groups = length_groups([seq_length(s, 0) for s in seqs], 0)
    assert len(groups) > 1
    got = split_loss(net, [collate([seqs[i] for i in g]) for g in groups], 1.0)
    assert abs(got - whole.item()) < 1e-5
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert len(grads) == len(expected)
    for a, b in zip(grads, expected, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_seq_length_is_the_collated_width() -> None:
    seqs = mixed_batch(np.random.default_rng(5))
    for seq in seqs:
        t = collate([seq])
        assert seq_length(seq, 0) == t["slots"].shape[1] + t["seq"].shape[1]
    ordered = shortest_first(seqs, 0)
    assert [seq_length(s, 0) for s in ordered] == sorted(seq_length(s, 0) for s in seqs)
