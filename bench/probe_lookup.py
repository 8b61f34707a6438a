"""Probe (issue 3 diagnosis): can the network learn one slot lookup, σ(x), on permutation contexts?

Usage: .venv/bin/python bench/probe_lookup.py K FACT   (K=0: copy x; K=1: σ(x); FACT=1 factorized slots)
Prints held-out exact match every 100 steps of a 1.5-minute run."""

import sys

import numpy as np
import torch

from ida_cli.model.batch import Example
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.train import TrainConfig, train
from ida_cli.model.vocab import Vocab, answer_tokens, context_slots, input_tokens
from ida_cli.tasks import get_task

torch.set_num_threads(2)
t = get_task("permutation")
rng = np.random.default_rng(0)
K = int(sys.argv[1])
fact = sys.argv[2] == "1"
raw = []
for g in range(6000):
    c = t.generate_context(8, rng)
    for x in rng.choice(8, 8, replace=False):
        q = {"x": int(x), "k": int(rng.integers(K, K + 1)) if K < 2 else int(rng.integers(1, K + 1))}
        raw.append((g, context_slots(t, c), input_tokens(t, "answer", q), answer_tokens(t, q, t.truth(c, q))))
v = Vocab.build({tok for _, s, i, o in raw for tok in (*[x for sl in s for x in sl], *i, *o)})
exs = [Example(g, [v.ids(sl) for sl in s], v.ids(i), v.ids(o)) for g, s, i, o in raw]
tr, he = [e for e in exs if e.group % 10], [e for e in exs if e.group % 10 == 0]
roles, ro, vo = v.factors() if fact else ((), (), ())
net = Net(ModelConfig(vocab_size=len(v), layers=4, roles=roles, role_of=ro, value_of=vo))
opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.01)
out, _ = train(net, opt, tr, he, TrainConfig(minutes=1.5, eval_every=100, lr=3e-3, patience=100))
print("K", K, "fact", fact, [(h["step"], round(h["held_accuracy"], 3)) for h in out.history])
