"""Probe (issue 3 diagnosis): can the network learn one slot lookup, σ(x), on permutation contexts?

Usage: .venv/bin/python -m bench.probes.lookup VARIANT STEPS
  VARIANT: plain (one embedding per slot token) or fact (role·value factorized slot embeddings)
Prints held-out accuracy of the answer token every 100 steps (2 layers, 6,000 contexts × 8
questions, k = 1; chance is 12.5%)."""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from ida_cli.model.batch import IGNORE, Example, collate, pack
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.vocab import Vocab, answer_tokens, context_slots, input_tokens
from ida_cli.tasks import get_task

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
variant, steps = sys.argv[1], int(sys.argv[2])
task = get_task("permutation")
rng = np.random.default_rng(0)
raw = []
for g in range(6000):
    c = task.generate_context(8, rng)
    for x in rng.choice(8, 8, replace=False):
        q = {"x": int(x), "k": 1}
        raw.append(
            (
                g,
                context_slots(task, c),
                input_tokens(task, "answer", q),
                answer_tokens(task, q, task.truth(c, q)),
            )
        )
v = Vocab.build({tok for _, s, i, o in raw for tok in (*[x for sl in s for x in sl], *i, *o)})
exs = [Example(g, [v.ids(sl) for sl in s], v.ids(i), v.ids(o)) for g, s, i, o in raw]
train, held = [e for e in exs if e.group % 10], [e for e in exs if e.group % 10 == 0]
roles, role_of, value_of = v.factors() if variant == "fact" else ((), (), ())
torch.manual_seed(0)
net = Net(ModelConfig(vocab_size=len(v), layers=2, roles=roles, role_of=role_of, value_of=value_of))
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
gen = np.random.default_rng(0)
seqs: list[list[Example]] = []
for step in range(1, steps + 1):
    if len(seqs) < 32:
        seqs += pack(train, 8, gen)
    batch, seqs = seqs[:32], seqs[32:]
    t = collate(batch)
    logits = net(t["slots"], t["seq"], t["pos"], t["seg"])
    loss = F.cross_entropy(logits.reshape(-1, len(v)), t["tgt"].reshape(-1), ignore_index=IGNORE)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    if step % 100 == 0:
        with torch.no_grad():
            t = collate(pack(held[:2000], 8))
            pred = net(t["slots"], t["seq"], t["pos"], t["seg"]).argmax(-1)
            answer = (t["tgt"] != IGNORE) & (t["tgt"] != 3)  # the answer token, not <eos>
            acc = (pred == t["tgt"])[answer].float().mean().item()
        print(f"{variant} step {step} loss {loss.item():.3f} held-out {acc:.3f}", flush=True)
