"""Decoding with a key-value cache computes what recomputing the whole sequence computed: the same
states position by position, and the same greedy outputs and log probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from bench.probes.kv_decode import recompute
from ida_cli.model.batch import EOS_ID, Example, collate, pack
from ida_cli.model.cache import extend, prefill
from ida_cli.model.decode import TorchML, output_logp
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.vocab import Vocab, context_slots, input_tokens
from ida_cli.tasks import get_task

SETTINGS: dict[str, dict[str, Any]] = {
    "plain": {"task": "wildcard", "net": {}},
    "bag": {"task": "unionfind", "net": {"bag": 8}},
    "memory-loop": {"task": "assignments", "net": {"bag": 8, "loop": 3, "memory": "ta"}},
}
EOS_SCALE = 0.1


def _ml(setting: str) -> TorchML:
    task = get_task(SETTINGS[setting]["task"])
    rng = np.random.default_rng(0)
    contexts = [task.generate_context(size, rng) for size in (8, 9)]
    seen = {t for c in contexts for s in context_slots(task, c) for t in s}
    vocab = Vocab.build(seen | {str(i) for i in range(20)})
    roles, role_of, value_of = vocab.factors()
    torch.manual_seed(0)
    cfg = ModelConfig(
        len(vocab), 32, 2, 2, roles=roles, role_of=role_of, value_of=value_of, **SETTINGS[setting]["net"]
    )
    return TorchML(Net(cfg), vocab, task.name, max_out={"answer": 6, "fan_out": 9, "fan_in": 9})


def _items(ml: TorchML, n_contexts: int, per: int) -> list[tuple[Any, list[str]]]:
    rng = np.random.default_rng(1)
    items = []
    for size in [8, 9][:n_contexts] * 2:
        c = ml._task.generate_context(size, rng)
        items += [(c, input_tokens(ml._task, "answer", q)) for q in ml._task.generate_questions(c, per, rng)]
    return items


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_cached_states_equal_a_full_pass_position_by_position(setting: str) -> None:
    ml = _ml(setting)
    exs = ml.examples(_items(ml, 2, 3))
    rng = np.random.default_rng(2)
    for ex in exs:
        ex.out = [int(x) for x in rng.integers(4, len(ml.vocab), size=int(rng.integers(0, 4)))]
    seqs = pack(exs, 4)
    short = [[Example(ex.group, ex.slots, ex.inp, []) for ex in seq] for seq in seqs]
    with torch.no_grad():
        t = collate(short, decode=True, bag=ml.net.cfg.bag)
        _, cache = prefill(ml.net, t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
        nxt = t["pos"][t["last"][:, 0], t["last"][:, 1]] + 1
        width = max(len(seq) for seq in seqs)
        for step in range(3):
            tok = torch.zeros(len(seqs), width, dtype=torch.long)
            pos, seg = torch.zeros_like(tok), torch.full_like(tok, -1)
            k = 0
            for i, seq in enumerate(seqs):
                for g, ex in enumerate(seq):
                    if step < len(ex.out):
                        tok[i, g], pos[i, g], seg[i, g] = ex.out[step], nxt[k] + step, g
                        short[i][g].out.append(ex.out[step])
                    k += 1
            got = extend(ml.net, cache, tok, pos, seg)
            full = collate(short, decode=True, bag=ml.net.cfg.bag)
            want = ml.net(full["slots"], full["seq"], full["pos"], full["seg"], full.get("bag"), hidden=True)
            k = 0
            for i, seq in enumerate(seqs):
                for g, ex in enumerate(seq):
                    if step < len(ex.out):
                        r, c = full["last"][k].tolist()
                        assert torch.allclose(got[i, g], want[r, c], atol=1e-5), (step, i, g)
                    k += 1


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_cached_greedy_decoding_equals_recomputing(setting: str) -> None:
    ml = _ml(setting)
    items = _items(ml, 2, 5)
    # an untrained network says one token over and over: <eos> made nearly as likely as that token
    # ends outputs at many lengths
    common = np.bincount(
        [i for toks, _ in ml._generate("answer", items) for i in ml.vocab.ids(toks)]
    ).argmax()
    with torch.no_grad():
        w = ml.net.head.weight
        w[EOS_ID] = w[int(common)] + EOS_SCALE * torch.randn(ml.net.cfg.width)
    ref = recompute(ml, "answer", items)  # the decoder before the cache, kept by its benchmark
    got = ml._generate("answer", items)
    assert [toks for toks, _ in got] == [toks for toks, _ in ref]
    assert np.allclose([lp for _, lp in got], [lp for _, lp in ref], atol=1e-4)
    # outputs of several lengths, some cut at the limit: the finished segments leave the batch
    assert len({len(toks) for toks, _ in got}) > 1
    check_kept_logps(ml, items, got)


def check_kept_logps(
    ml: TorchML, items: list[tuple[Any, list[str]]], got: list[tuple[list[str], float]]
) -> None:
    """The log p of each output decoded to <eos> is kept, and output_logp (the adversary's input)
    reads it: what a teacher-forced pass gives, but for float rounding. An output cut at the limit
    has no <eos> term and is not kept."""
    outputs = [(c, inp, toks) for (c, inp), (toks, _) in zip(items, got, strict=True)]
    ended = [i for i, (toks, _) in enumerate(got) if len(toks) < ml.max_new["answer"]]
    assert 0 < len(ended) < len(got) and 0 < len(ml.logps) <= len(ended)
    kept = output_logp(ml, outputs)
    assert [kept[i] for i in ended] == [got[i][1] for i in ended]  # the decoder's own numbers
    ml.logps.clear()
    forced = output_logp(ml, outputs)
    assert np.allclose(kept, forced, atol=1e-4)
