"""Slot targets (batch.Example.slot): the slot a question asks about is trained to give the answer
too, which is what lets assignments' values chain from slot to slot (bench/probes/assign.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ida_cli.model.batch import IGNORE, Example, collate
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.train import batch_loss
from ida_cli.model.vocab import Vocab, context_slots, question_slot
from ida_cli.tasks import get_task

ASSIGN = {
    "base": {"v0": 3, "v1": 5},
    "defs": {f"v{i}": ["v0", "v1"] for i in range(2, 8)},
    "table": [[(a + b) % 8 for b in range(8)] for a in range(8)],
}


def test_question_slot_names_the_variable_asked_about() -> None:
    task = get_task("assignments")
    assert question_slot(task, ASSIGN, {"var": "v5"}) == 5
    assert question_slot(task, ASSIGN, {"var": "v1"}) == 1
    assert question_slot(task, ASSIGN, {"kind": "operands", "var": "v5"}) == -1
    assert question_slot(task, ASSIGN, {"kind": "apply", "a": 1, "b": 2}) == -1
    perm = get_task("permutation")
    assert question_slot(perm, {"perm": list(range(8))}, {"x": 1, "k": 3}) == -1


def test_the_slot_of_question_slot_is_the_variables_slot() -> None:
    task = get_task("assignments")
    slots = context_slots(task, ASSIGN)
    for var in ("v0", "v4", "v7"):
        assert slots[question_slot(task, ASSIGN, {"var": var})][0] == f"n={var}"


def test_collate_sets_one_token_answers_at_their_slot_only() -> None:
    one = Example(0, [[5], [6], [7]], [20, 30], [40], slot=2)
    two = Example(0, [[5], [6], [7]], [20, 31], [41, 42], slot=1)  # two tokens: no slot target
    none = Example(0, [[5], [6], [7]], [20, 32], [43])
    t = collate([[one, two, none]], bag=8)
    assert t["slot_tgt"].tolist() == [[IGNORE, IGNORE, 40]]
    assert (collate([[one]], decode=True, bag=8)["slot_tgt"] == IGNORE).all()


def _net_and_batch(slot: int) -> tuple[Net, dict[str, torch.Tensor]]:
    rng = np.random.default_rng(0)
    task = get_task("assignments")
    ctx = task.generate_context(8, rng)
    vocab = Vocab.build({t for s in context_slots(task, ctx) for t in s})
    roles, role_of, value_of = vocab.factors()
    torch.manual_seed(0)
    net = Net(
        ModelConfig(
            len(vocab), 32, 2, 1, loop=2, bag=8, roles=roles, role_of=role_of, value_of=value_of, memory="ta"
        )
    )
    slots = [vocab.ids(s) for s in context_slots(task, ctx)]
    ex = Example(0, slots, vocab.ids(["<answer>", "v5"]), vocab.ids(["4"]), slot=slot)
    return net, collate([[ex]], bag=8)


def test_with_slots_gives_logits_for_the_plain_slots_only() -> None:
    net, t = _net_and_batch(5)
    out, at_slots = net(t["slots"], t["seq"], t["pos"], t["seg"], t["bag"], with_slots=True)
    assert at_slots.shape == (1, 8, net.cfg.vocab_size)  # 8 variables; the 64 table entries are memory
    assert torch.equal(out, net(t["slots"], t["seq"], t["pos"], t["seg"], t["bag"]))


@pytest.mark.parametrize("slot", [5, -1])
def test_the_loss_adds_the_slot_targets_cross_entropy(slot: int) -> None:
    net, t = _net_and_batch(slot)
    with torch.no_grad():
        out, at_slots = net(t["slots"], t["seq"], t["pos"], t["seg"], t["bag"], with_slots=True)
        plain = F.cross_entropy(out.reshape(-1, out.shape[-1]), t["tgt"].reshape(-1), ignore_index=IGNORE)
        extra = F.cross_entropy(at_slots[0, 5:6], t["tgt"][t["tgt"] != IGNORE][:1]) if slot >= 0 else 0.0
        assert torch.isclose(batch_loss(net, t, 0.5), plain + 0.5 * extra)
        assert torch.isclose(batch_loss(net, t, 0.0), plain)
