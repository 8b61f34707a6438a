"""Probe (issue 3 diagnosis): why does assignments stop at depth-1 questions?

Usage: .venv/bin/python -m bench.probes.assign VARIANT SECONDS
  VARIANT, '+'-joined: base (the task default: 1 layer looped 8x, table as memory, questions only
  about defined variables), all (questions about every variable, base ones too), aux (every
  variable's slot is also trained to give its value), qaux (only the asked variables' slots, as
  the product's slot targets do), loopN, layersN, lrX (e.g. lr3e-4). Example: base+qaux.
Fresh contexts at size 8 every step (the prototype's setting in docs/model.md); held-out accuracy on
2,000 questions of 250 other contexts, by depth (longest chain of definitions below the variable),
every 30 seconds."""

import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from ida_cli.model.batch import IGNORE, Example, collate, exact_match
from ida_cli.model.net import TASK_DEFAULTS, ModelConfig, Net
from ida_cli.model.train import TrainConfig, lr_at
from ida_cli.model.vocab import Vocab, answer_tokens, context_slots, input_tokens
from ida_cli.tasks import get_task

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
variant, seconds = sys.argv[1].split("+"), float(sys.argv[2])
task = get_task("assignments")


def depth(ctx: dict, var: str) -> int:
    if var in ctx["base"]:
        return 0
    y, z = ctx["defs"][var]
    return 1 + max(depth(ctx, y), depth(ctx, z))


def context_examples(g: int, rng: np.random.Generator, vocab: Vocab | None) -> list[tuple]:
    ctx = task.generate_context(8, rng)
    names = list(ctx["defs"]) if "all" not in variant else [*ctx["base"], *ctx["defs"]]
    picks = [names[int(i)] for i in rng.integers(len(names), size=8)]
    out = []
    values = task._values(ctx)
    asked = set(picks) if "qaux" in variant else set(values)
    aux = [values[f"v{i}"] if f"v{i}" in asked else None for i in range(8)]
    for var in picks:
        q = {"var": var}
        out.append(
            (
                g,
                context_slots(task, ctx),
                input_tokens(task, "answer", q),
                answer_tokens(task, q, task.truth(ctx, q)),
                depth(ctx, var),
                aux,
            )
        )
    return out


# the product's vocabulary: every token a context or answer can hold at size 8
seen_rng = np.random.default_rng(99)
seen = {
    t
    for _ in range(200)
    for _, s, i, o, _, _ in context_examples(0, seen_rng, None)
    for t in (*[x for sl in s for x in sl], *i, *o)
}
vocab = Vocab.build(seen)


def to_ex(rows: list[tuple]) -> list[Example]:
    out = []
    for g, s, i, o, d, aux in rows:
        ex = Example(g, [vocab.ids(sl) for sl in s], vocab.ids(i), vocab.ids(o), str(d))
        ex.aux = [IGNORE if a is None else vocab.ids([str(a)])[0] for a in aux]  # type: ignore[attr-defined]
        out.append(ex)
    return out


held_rng = np.random.default_rng(12345)
held = to_ex([r for g in range(250) for r in context_examples(g, held_rng, vocab)])

kw = dict(TASK_DEFAULTS["assignments"])
lr = 1e-3
for v in variant:
    if v.startswith("loop"):
        kw["loop"] = int(v[4:])
    elif v.startswith("layers"):
        kw["layers"] = int(v[6:])
    elif v.startswith("lr"):
        lr = float(v[2:])
roles, role_of, value_of = vocab.factors()
torch.manual_seed(0)
cfg = ModelConfig(vocab_size=len(vocab), roles=roles, role_of=role_of, value_of=value_of, **kw)
net = Net(cfg)
opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
tc = TrainConfig(lr=lr, warmup=100)
rng = np.random.default_rng(0)
start = time.perf_counter()
step, last_eval, g = 0, 0.0, 1000
print(f"variant {variant} config {kw} lr {lr}", flush=True)
while True:
    elapsed = time.perf_counter() - start
    if elapsed - last_eval >= 30 or elapsed >= seconds:
        last_eval = elapsed
        net.eval()
        right: dict[str, list[bool]] = {}
        with torch.no_grad():
            seqs = [held[i : i + 8] for i in range(0, len(held), 8)]
            for i in range(0, len(seqs), 64):
                t = collate(seqs[i : i + 64], bag=cfg.bag)
                ok = exact_match(
                    net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag")), t["tgt"], t["seg"]
                )
                for ex, r in zip([e for s in seqs[i : i + 64] for e in s], ok.tolist(), strict=True):
                    right.setdefault(ex.kind, []).append(r)
        net.train()
        allr = [r for rs in right.values() for r in rs]
        by = " ".join(f"d{k}:{100 * sum(v) / len(v):.0f}%({len(v)})" for k, v in sorted(right.items()))
        print(f"{elapsed:6.0f}s step {step:5d} held {100 * sum(allr) / len(allr):5.1f}%  {by}", flush=True)
        if elapsed >= seconds:
            break
    batch = []
    for _ in range(32):
        g += 1
        batch.append(to_ex(context_examples(g, rng, vocab)))
    t = collate(batch, bag=cfg.bag)
    for pg in opt.param_groups:
        pg["lr"] = lr_at(step, tc, 10**9) if "const" not in variant else lr
    logits, slot_logits = net(t["slots"], t["seq"], t["pos"], t["seg"], t["bag"], with_slots=True)
    loss = F.cross_entropy(logits.reshape(-1, len(vocab)), t["tgt"].reshape(-1), ignore_index=IGNORE)
    if "aux" in variant or "qaux" in variant:
        aux = torch.tensor([seq[0].aux for seq in batch])
        loss = loss + F.cross_entropy(
            slot_logits[:, :8].reshape(-1, len(vocab)), aux.reshape(-1), ignore_index=IGNORE
        )
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    step += 1
