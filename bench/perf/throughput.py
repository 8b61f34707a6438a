"""Issue 3 speed targets, measured side by side in one run:

1. training throughput (6 · non-embedding params · real tokens per second) against a plain float32
   1024x1024 matmul's FLOP/s, alternating the two so that machine load hits both alike;
2. batched frontier inference (one `ML.answer` call over many questions) against one call per
   question, in examples per second.

Writes bench/out/throughput.json. Usage: .venv/bin/python -m bench.perf.throughput [task]"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ida_cli.model.batch import IGNORE, Example, collate, pack
from ida_cli.model.decode import TorchML
from ida_cli.model.net import TASK_DEFAULTS, ModelConfig, Net
from ida_cli.model.vocab import Vocab, answer_tokens, context_slots, input_tokens
from ida_cli.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]


def matmul_gflops(n: int = 1024, reps: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def make_examples(
    task_name: str, contexts: int, rng: np.random.Generator
) -> tuple[list[Example], Vocab, list]:
    task = get_task(task_name)
    raw, items = [], []
    for g in range(contexts):
        ctx = task.generate_context(8, rng)
        slots = context_slots(task, ctx)
        for q in task.generate_questions(ctx, 8, rng):
            raw.append(
                (g, slots, input_tokens(task, "answer", q), answer_tokens(task, q, task.truth(ctx, q)))
            )
            items.append((ctx, q))
    vocab = Vocab.build({t for _, s, i, o in raw for t in (*[x for sl in s for x in sl], *i, *o)})
    exs = [Example(g, [vocab.ids(sl) for sl in s], vocab.ids(i), vocab.ids(o)) for g, s, i, o in raw]
    return exs, vocab, items


def train_gflops(net: Net, exs: list[Example], steps: int, batch: int = 32) -> float:
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    seqs = pack(exs, 8, np.random.default_rng(0))
    tokens, t0 = 0, time.perf_counter()
    for i in range(steps):
        t = collate(seqs[(i * batch) % len(seqs) :][:batch], bag=net.cfg.bag)
        logits = net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), t["tgt"].reshape(-1), ignore_index=IGNORE
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        tokens += int((t["slots"][:, :, 0] != 0).sum() + (t["seg"] >= 0).sum())
    return 6 * net.n_params(embeddings=False) * tokens / (time.perf_counter() - t0) / 1e9


def main() -> None:
    task_name = sys.argv[1] if len(sys.argv) > 1 else "permutation"
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    exs, vocab, items = make_examples(task_name, 400, np.random.default_rng(0))
    roles, role_of, value_of = vocab.factors()  # the product's network (training.runner)
    cfg = ModelConfig(len(vocab), roles=roles, role_of=role_of, value_of=value_of, **TASK_DEFAULTS[task_name])
    net = Net(cfg)
    train_gflops(net, exs, 3)  # warm up
    mm, tr = [], []
    for _ in range(5):
        mm.append(matmul_gflops())
        tr.append(train_gflops(net, exs, 15))
    ml = TorchML(net, vocab, task_name)
    batch_items = items[:512]
    ml.answer(batch_items[:8])
    batched, single = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        ml.answer(batch_items)
        batched.append(len(batch_items) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for it in batch_items[:64]:
            ml.answer([it])
        single.append(64 / (time.perf_counter() - t0))
    out = {
        "task": task_name,
        "config": net.cfg.to_dict(),
        "params": net.n_params(),
        "matmul_gflops": statistics.median(mm),
        "train_gflops": statistics.median(tr),
        "train_fraction_of_matmul": statistics.median(t / m for t, m in zip(tr, mm, strict=True)),
        "batched_answers_per_s": statistics.median(batched),
        "single_answers_per_s": statistics.median(single),
        "batched_over_single": statistics.median(batched) / statistics.median(single),
    }
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / f"throughput-{task_name}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
