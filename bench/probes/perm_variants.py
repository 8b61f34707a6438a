"""Issue 3 diagnosis: which change lets permutation (size 8, k in [2, 64)) learn faster?

Usage: .venv/bin/python -m bench.probes.perm_variants SECONDS VARIANT [VARIANT ...]
  base    the product's network and settings (6 layers, lr 1e-3, 32 contexts x 8 questions a step)
  bits    k given as its binary digits (most significant first) instead of one number token
  deep    8 layers
  loop    3 layers looped 3 times (shared weights, 9 layers of compute)
  lr2     lr 2e-3
  bag     each question one position (ModelConfig.bag); bag8: the same with 8 layers
Same data (40,000 training contexts x 8 questions, 1,000 held-out contexts), same seed; prints
held-out exact match every 250 steps and by cycle length at the end. Writes bench/out/perm_variants.json."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ida_cli.model.batch import IGNORE, Example, collate, exact_match, pack
from ida_cli.model.net import ModelConfig, Net
from ida_cli.model.train import TrainConfig, lr_at
from ida_cli.model.vocab import Vocab, answer_tokens, context_slots, input_tokens
from ida_cli.tasks import get_task

TASK = get_task("permutation")
OUT = Path("bench/out/perm_variants.json")
Raw = tuple[int, list[list[str]], list[str], list[str], int]


def cycle_len(perm: list[int], x: int) -> int:
    n, y = 1, perm[x]
    while y != x:
        n, y = n + 1, perm[y]
    return n


def make(n_ctx: int, seed: int, bits: bool) -> list[Raw]:
    rng = np.random.default_rng(seed)
    raw = []
    for g in range(n_ctx):
        c = TASK.generate_context(8, rng)
        slots = context_slots(TASK, c)
        for _ in range(8):
            q = TASK.generate_question(c, rng)
            inp = input_tokens(TASK, "answer", q)
            if bits:
                inp = [*inp[:-1], *(f"b{b}" for b in format(q["k"], "b"))]
            out = answer_tokens(TASK, q, TASK.truth(c, q))
            raw.append((g, slots, inp, out, cycle_len(c["perm"], q["x"])))
    return raw


def accuracy(net: Net, held: list[Example]) -> tuple[list[Example], list[bool]]:
    net.eval()
    seqs = pack(held, 8)
    res: list[bool] = []
    with torch.no_grad():
        for i in range(0, len(seqs), 64):
            t = collate(seqs[i : i + 64], bag=net.cfg.bag)
            logits = net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
            res += exact_match(logits, t["tgt"], t["seg"]).tolist()
    net.train()
    return [e for s in seqs for e in s], res


def run(variant: str, seconds: float) -> dict[str, Any]:
    bits = variant == "bits"
    train_raw, held_raw = make(40000, 1, bits), make(1000, 2, bits)
    seen = {t for _, s, i, o, _ in train_raw + held_raw for t in (*[x for sl in s for x in sl], *i, *o)}
    v = Vocab.build(seen)

    def examples(raw: list[Raw]) -> list[Example]:
        return [Example(g, [v.ids(sl) for sl in s], v.ids(i), v.ids(o), str(n)) for g, s, i, o, n in raw]

    train, held = examples(train_raw), examples(held_raw)
    roles, role_of, value_of = v.factors()
    torch.manual_seed(0)
    cfg_net = ModelConfig(
        len(v),
        layers={"deep": 8, "loop": 3, "bag8": 8}.get(variant, 6),
        loop=3 if variant == "loop" else 1,
        bag=8 if variant.startswith("bag") else 0,
        roles=roles,
        role_of=role_of,
        value_of=value_of,
    )
    net = Net(cfg_net)
    cfg = TrainConfig(lr=2e-3 if variant == "lr2" else 1e-3)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = np.random.default_rng(0)
    seqs: list[list[Example]] = []
    hist = []
    start, step = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        while len(seqs) < cfg.batch:
            seqs += pack(train, 8, gen)
        batch, seqs = seqs[: cfg.batch], seqs[cfg.batch :]
        t = collate(batch, bag=net.cfg.bag)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg, 4000)
        logits = net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
        loss = F.cross_entropy(logits.reshape(-1, len(v)), t["tgt"].reshape(-1), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        opt.step()
        step += 1
        if step % 250 == 0:
            _, res = accuracy(net, held)
            el = time.perf_counter() - start
            hist.append({"step": step, "seconds": round(el, 1), "held": sum(res) / len(res)})
            print(f"{variant} step {step} {el:.0f}s loss {loss.item():.3f} held {hist[-1]['held']:.3f}")
    order, res = accuracy(net, held)
    by_len: dict[str, list[bool]] = defaultdict(list)
    for e, r in zip(order, res, strict=True):
        by_len[e.kind].append(r)
    return {
        "steps": step,
        "held": sum(res) / len(res),
        "history": hist,
        "by_cycle_length": {k: round(float(np.mean(x)), 3) for k, x in sorted(by_len.items())},
    }


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    seconds, variants = float(sys.argv[1]), sys.argv[2:]
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for variant in variants:
        results[variant] = run(variant, seconds)
        print(variant, json.dumps(results[variant]))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
