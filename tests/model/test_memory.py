"""Slots of one role as read-only memory (ModelConfig.memory, docs/model.md item 4): the split, that the
network is blind to where the memory slots sit, and decoding that agrees batched and one at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ida_cli.model.batch import collate
from ida_cli.model.decode import TorchML
from ida_cli.model.net import ModelConfig, Net, split_memory
from ida_cli.model.vocab import Vocab, context_slots, input_tokens
from ida_cli.tasks import get_task

TASK = get_task("assignments")


def test_split_memory_packs_each_kind_to_the_front_in_order() -> None:
    slots = torch.tensor([[[1, 2], [7, 0], [3, 0], [8, 9]], [[7, 7], [4, 0], [0, 0], [0, 0]]])
    is_mem = torch.tensor([[False, True, False, True], [True, False, False, False]])
    plain, mem = split_memory(slots, is_mem)
    assert plain.tolist() == [[[1, 2], [3, 0], [0, 0]], [[4, 0], [0, 0], [0, 0]]]
    assert mem.tolist() == [[[7, 0], [8, 9]], [[7, 7], [0, 0]]]


def _ml(memory: str = "ta") -> TorchML:
    rng = np.random.default_rng(0)
    contexts = [TASK.generate_context(size, rng) for size in (8, 9, 16)]
    seen = {t for c in contexts for s in context_slots(TASK, c) for t in s}
    vocab = Vocab.build(seen)
    roles, role_of, value_of = vocab.factors()
    torch.manual_seed(0)
    cfg = ModelConfig(
        len(vocab), 32, 2, 1, loop=3, bag=8, roles=roles, role_of=role_of, value_of=value_of, memory=memory
    )
    return TorchML(Net(cfg), vocab, "assignments", max_out={"answer": 3, "fan_out": 5, "fan_in": 5})


def _items(sizes: tuple[int, ...]) -> list[tuple[object, list[str]]]:
    rng = np.random.default_rng(1)
    items = []
    for size in sizes:
        c = TASK.generate_context(size, rng)
        items += [(c, input_tokens(TASK, "answer", q)) for q in TASK.generate_questions(c, 3, rng)]
    return items


def test_memory_slots_are_read_wherever_they_sit() -> None:
    ml = _ml()
    ex = ml.examples(_items((8,))[:1])[0]
    table = [s for s in ex.slots if ml.vocab.tokens[s[0]].startswith("ta=")]
    rest = [s for s in ex.slots if not ml.vocab.tokens[s[0]].startswith("ta=")]
    assert len(table) == 64 and len(rest) == 8

    def logits(slots: list[list[int]]) -> torch.Tensor:
        ex.slots = slots
        t = collate([[ex]], bag=8)
        with torch.no_grad():
            return ml.net(t["slots"], t["seq"], t["pos"], t["seg"], t["bag"])

    first = logits([*table, *rest])
    assert torch.allclose(first, logits([*rest, *table[::-1]]), atol=1e-5)
    assert torch.allclose(first, logits([*rest[:3], *table[:10], *rest[3:], *table[10:]]), atol=1e-5)
    # the table matters: another table changes the output
    other = [[s[0], s[1], ml.vocab.index["tv=0"]] for s in table]
    assert not torch.allclose(first, logits([*rest, *other]), atol=1e-3)


def test_memory_decoding_agrees_batched_and_one_at_a_time_across_sizes() -> None:
    ml = _ml()
    items = _items((8, 16))[1:5]
    batched = ml._generate("answer", items)
    single = [ml._generate("answer", [it])[0] for it in items]
    assert [toks for toks, _ in batched] == [toks for toks, _ in single]
    assert np.allclose([lp for _, lp in batched], [lp for _, lp in single], atol=1e-4)


def test_a_memory_role_the_vocabulary_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="memory role 'nope'"):
        _ml("nope")
