"""Questions read as one position (ModelConfig.bag): the layout, and greedy decoding that agrees
with teacher forcing and with one-at-a-time calls in every mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ida_cli.model.batch import BOS_ID, IGNORE, SQ_ID, Example, collate, segment
from ida_cli.model.decode import TorchML
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.vocab import Vocab, context_slots, input_tokens
from ida_cli.tasks import get_task
from ida_cli.vocabulary import JSON

TASK = get_task("permutation")


def test_a_question_is_one_position_and_a_transcript_follows_it() -> None:
    ask = Example(0, [[5]], [20, 30, 31, 32], [40])  # mode, three question tokens → one answer token
    assert segment(ask, 8) == ([20, 40], [30, 31, 32], 1)
    assert segment(ask, 2) == ([20, 40], [30, 31], 1)  # a bag keeps its first places
    fan_in = Example(0, [[5]], [21, 30, 31, SQ_ID, 33, 34], [40, 41])
    assert segment(fan_in, 8) == ([21, SQ_ID, 33, 34, BOS_ID, 40, 41], [30, 31], 5)
    assert segment(fan_in, 0) == ([21, 30, 31, SQ_ID, 33, 34, BOS_ID, 40, 41], [], 7)
    t = collate([[ask, fan_in]], bag=8)
    assert t["seq"][0].tolist() == [20, 40, 21, SQ_ID, 33, 34, BOS_ID, 40, 41]
    assert t["bag"][0, 0, :3].tolist() == [30, 31, 32] and t["bag"][0, 2, :2].tolist() == [30, 31]
    assert not t["bag"][0, [1, 3, 4, 5, 6, 7, 8]].any()
    # the question's position predicts the answer; the fan-in's <bos> predicts its output
    assert t["tgt"][0].tolist() == [40, 3, IGNORE, IGNORE, IGNORE, IGNORE, 40, 41, 3]
    assert t["pos"][0].tolist() == [0, 1, 0, 1, 2, 3, 4, 5, 6]


def _ml() -> TorchML:
    rng = np.random.default_rng(0)
    contexts = [TASK.generate_context(8, rng) for _ in range(3)]
    seen = {t for c in contexts for s in context_slots(TASK, c) for t in s}
    vocab = Vocab.build(seen)
    roles, role_of, value_of = vocab.factors()
    torch.manual_seed(0)
    cfg = ModelConfig(len(vocab), 32, 2, 2, bag=8, roles=roles, role_of=role_of, value_of=value_of)
    return TorchML(Net(cfg), vocab, "permutation", max_out={"answer": 3, "fan_out": 5, "fan_in": 5})


@pytest.mark.parametrize("mode", ["answer", "fan_out", "fan_in"])
def test_bag_decoding_agrees_with_single_calls_and_teacher_forcing(mode: str) -> None:
    ml = _ml()
    rng = np.random.default_rng(1)
    items: list[tuple[JSON, list[str]]] = []
    for _ in range(3):
        c = TASK.generate_context(8, rng)
        for q in TASK.generate_questions(c, 4, rng):
            transcript = [({"x": q["x"], "k": q["k"] // 2}, int(rng.integers(8)))] if mode == "fan_in" else []
            items.append((c, input_tokens(TASK, mode, q, transcript)))
    batched = ml._generate(mode, items)
    single = [ml._generate(mode, [it])[0] for it in items]
    assert [toks for toks, _ in batched] == [toks for toks, _ in single]
    assert np.allclose([lp for _, lp in batched], [lp for _, lp in single], atol=1e-4)
    # teacher-forced on its own output, the network's argmax at every output position is that output
    exs = ml.examples(items)
    for ex, (toks, _) in zip(exs, batched, strict=True):
        ex.out = ml.vocab.ids(toks)
    t = collate([[ex] for ex in exs], bag=8)
    with torch.no_grad():
        pred = ml.net(t["slots"], t["seq"], t["pos"], t["seg"], t["bag"]).argmax(-1)
    for i, ex in enumerate(exs):
        scored = (t["tgt"][i] != IGNORE).nonzero()[:, 0]
        assert pred[i, scored[: len(ex.out)]].tolist() == ex.out


def test_a_bag_network_refuses_plain_batches() -> None:
    ml = _ml()
    t = collate([[Example(0, [[5]], [20, 30], [40])]])
    with pytest.raises(ValueError, match="reads questions as bags"):
        ml.net(t["slots"], t["seq"], t["pos"], t["seg"])


def test_input_states_of_decoded_inputs_come_from_decoding_and_match_a_fresh_pass() -> None:
    from ida_cli.model.decode import input_states

    ml = _ml()
    rng = np.random.default_rng(2)
    c = TASK.generate_context(8, rng)
    questions = TASK.generate_questions(c, 6, rng)
    items = [(c, input_tokens(TASK, "answer", q)) for q in questions]
    ml.answer([(c, q) for q in questions[:4]])  # decodes, and keeps the first four inputs' states
    fresh = _ml()  # the same weights (seed 0), nothing decoded
    expected = input_states(fresh, items)
    forward = ml.net.forward
    calls = []

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return forward(*args, **kwargs)

    ml.net.forward = counted  # type: ignore[method-assign]
    assert np.allclose(input_states(ml, items[:4]), expected[:4], atol=1e-5)
    assert calls == []  # all four from the decoding's states
    assert np.allclose(input_states(ml, items), expected, atol=1e-5)
    assert len(calls) == 1  # one pass, for the two inputs not decoded
