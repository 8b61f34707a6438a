"""The torch side of `ida train model`: examples from rows, the network, the loop, the checkpoints."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ida_cli.errors import UsageError
from ida_cli.model import device
from ida_cli.model.batch import Example
from ida_cli.model.net import TASK_DEFAULTS, ModelConfig, Net, set_seed
from ida_cli.model.train import TrainConfig, build, load_checkpoint, save_checkpoint, train
from ida_cli.model.vocab import (
    Vocab,
    answer_tokens,
    context_slots,
    input_tokens,
    question_slot,
    step_tokens,
)
from ida_cli.tasks import get_task

if TYPE_CHECKING:
    from ida_cli.learn.data import Rows
    from ida_cli.learn.options import TrainModelOptions


def to_examples(
    task_name: str, rows: Rows, vocab: Vocab | None, memo: dict[Hashable, Example] | None = None
) -> tuple[list[Example], Vocab]:
    """Rows as token ids. `memo` (with a fixed `vocab`): the examples of keyed rows made by an earlier
    call, taken as they are, and this call's added to it; the online engine tokenizes every stored
    row each cycle, and most of them it tokenized before (34 CPU s a cycle at 2.8 M rows)."""
    if memo is not None and vocab is None:
        raise ValueError("an example memo needs a fixed vocabulary")
    task = get_task(task_name)
    strict = task_name == "user"
    slot_cache: dict[int, list[list[str]]] = {}
    slots_ids: dict[int, list[list[int]]] = {}
    raw: list[tuple[int, int, list[str], list[str], str, int]] = []
    made: list[Example | None] = [None] * len(rows.items)
    known = memo if memo is not None else {}
    # empty: no row is looked up. With a memo (so a fixed vocabulary) a row's example enters the
    # memo as it is made, so a row repeated within this call (the root weight's copies) shares it
    keys = rows.keys if memo is not None else []

    def make(vocab: Vocab, i: int, cid: int, inp: list[str], out: list[str], kind: str, slot: int) -> None:
        if cid not in slots_ids:
            slots_ids[cid] = [vocab.ids(s, strict) for s in slot_cache[cid]]
        ex = made[i] = Example(
            cid, slots_ids[cid], vocab.ids(inp, strict), vocab.ids(out, strict), kind, slot
        )
        key = keys[i] if keys else None
        if key is not None:
            known[key] = ex

    for i, (cid, ctx, mode, q, transcript, target) in enumerate(rows.items):
        key = keys[i] if keys else None
        if key is not None:
            hit = known.get(key)
            if hit is not None:
                made[i] = hit
                continue
        if cid not in slot_cache:
            slot_cache[cid] = context_slots(task, ctx)
        inp = input_tokens(task, mode, q, transcript)
        out = answer_tokens(task, q, target) if mode == "answer" else step_tokens(task, q, target)
        kind = task.question_text(q).split()[0] if task.name != "user" else "text"
        kind = sys.intern(f"{mode}:{kind}")  # a handful of kinds, one copy each among millions
        slot = question_slot(task, ctx, q) if mode == "answer" else -1
        if vocab is not None:  # ids at once: the token texts of millions of rows at a time took GBs
            make(vocab, i, cid, inp, out, kind, slot)
        else:
            raw.append((i, cid, inp, out, kind, slot))
    if vocab is None:
        seen = {t for slots in slot_cache.values() for s in slots for t in s}
        seen |= {t for _, _, inp, out, _, _ in raw for t in (*inp, *out)}
        vocab = Vocab.build(seen)
        for item in raw:
            make(vocab, *item)
    examples = [ex for ex in made if ex is not None]
    assert len(examples) == len(made)
    return examples, vocab


def max_out(examples: list[Example], previous: dict[str, int] | None) -> dict[str, int]:
    """Per mode, the longest target (+ <eos>) trained on so far, kept across warm starts."""
    out: dict[str, int] = dict(previous or {})
    # by kind first, a split per kind not per example: the online engine takes every stored
    # example each cycle (2.6 CPU s at 3.4 M)
    longest: dict[str, int] = {}
    for ex in examples:
        if len(ex.out) > longest.get(ex.kind, -1):
            longest[ex.kind] = len(ex.out)
    for kind, n in longest.items():
        mode = kind.split(":", 1)[0]
        out[mode] = max(out.get(mode, 0), n + 1)
    return out


def split_held(examples: list[Example], every: int) -> tuple[list[Example], list[Example]]:
    held = [e for e in examples if e.group % every == 0]
    train = [e for e in examples if e.group % every != 0]
    if not held or not train:  # too few contexts to hold any out: judge on the training data
        return examples, examples
    return train, held


def threads() -> int:
    """Torch threads for training: every core, or IDA_THREADS (on a machine shared with other
    work, fewer threads than cores avoids OpenMP spinning against the other processes)."""
    value = os.environ.get("IDA_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


def run(
    task: str,
    rows: Rows,
    opts: TrainModelOptions,
    version: int,
    ckdir: Path,
    held_every: int,
    on_progress: Callable[[Any], None] | None,
    warm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from ida_cli.model import dist as distributed

    d = distributed.setup()
    if not d.on:  # under torchrun, setup already split the cores between the processes
        torch.set_num_threads(threads())
    set_seed(opts.seed)
    dev = device.resolve(opts.device)
    partial = ckdir / f"model-v{version}.partial.pt"
    resume = load_checkpoint(partial, None) if opts.resume and partial.exists() else None
    if opts.resume and resume is None:
        raise UsageError(f"model v{version} has no saved state to resume from: train again without --resume")
    # a warm start keeps the previous version's vocabulary, weights and optimizer state, and skips the
    # rate's warm-up: restarting AdamW and warming back up to the full rate cost a warm start its
    # edge over a fresh one (bench/topics/experiments.md, "Warm starts and the learning-rate restart")
    start_from = resume or warm
    vocab = Vocab(list(start_from["vocab"])) if start_from else None
    examples, vocab = to_examples(task, rows, vocab)
    train_set, held_set = split_held(examples, held_every)
    if start_from:
        net = build(start_from["config"])
        net.load_state_dict(start_from["model"])
    else:
        shape = {**TASK_DEFAULTS.get(task, {})}
        for key in ("layers", "loop", "width"):
            if getattr(opts, key) is not None:
                shape[key] = getattr(opts, key)
        roles, role_of, value_of = vocab.factors()
        net = Net(
            ModelConfig(vocab_size=len(vocab), roles=roles, role_of=role_of, value_of=value_of, **shape)
        )
    net.to(dev)  # before the optimizer: its moments live beside the weights
    optimizer = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=0.01)
    if resume:
        optimizer.load_state_dict(resume["optimizer"])
    elif warm and "optimizer" in warm:
        optimizer.load_state_dict(warm["optimizer"])
    cfg = TrainConfig(
        lr=opts.lr,
        batch=opts.batch,
        per_seq=opts.per_seq,
        minutes=opts.minutes,
        max_steps=opts.max_steps,
        eval_every=opts.eval_every,
        patience=opts.patience,
        seed=opts.seed,
        bucket=opts.bucket,
        # a parent without its optimizer (an online experiment's teacher) warms the new one up
        warmup=0 if warm and "optimizer" in warm and not resume else TrainConfig.warmup,
    )
    base = {
        "supervised": opts.supervised,  # the recipe a later run continues only if it shares
        "config": net.cfg.to_dict(),
        "vocab": vocab.tokens,
        "task": task,
        "train_config": cfg.to_dict(),
        "max_out": max_out(examples, (start_from or {}).get("max_out")),
    }

    def on_checkpoint(step: int, best: float, best_step: int, best_state: dict[str, Any]) -> None:
        save_checkpoint(
            partial,
            {
                **base,
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "metric": best,
                "best_step": best_step,
            },
        )

    start = int(resume["step"]) if resume else 0
    best = (float(resume["metric"]), int(resume["best_step"])) if resume else (-1.0, 0)
    outcome, best_state = train(
        net, optimizer, train_set, held_set, cfg, start, best, on_progress, on_checkpoint, d
    )
    if outcome.stopped == "interrupted":
        if d.main:
            on_checkpoint(outcome.step, outcome.best_accuracy, outcome.best_step, best_state)
        raise KeyboardInterrupt
    final = ckdir / f"model-v{version}.pt"
    sha = None
    if d.main:  # only rank 0 writes
        sha = save_checkpoint(
            final,
            {
                **base,
                "model": best_state,
                "optimizer": optimizer.state_dict(),
                "step": outcome.step,
                "metric": outcome.best_accuracy,
                "best_step": outcome.best_step,
            },
        )
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    flops = 6 * net.n_params(embeddings=False) * outcome.tokens_seen
    metrics = {
        "held_accuracy": outcome.best_accuracy,
        "best_step": outcome.best_step,
        "steps": outcome.step,
        "stopped": outcome.stopped,
        "seconds": outcome.seconds,
        "examples_seen": outcome.examples_seen,
        "examples_per_s": outcome.examples_seen / max(outcome.seconds, 1e-9),
        "tokens_per_s": outcome.tokens_seen / max(outcome.seconds, 1e-9),
        "train_gflops_per_s": flops / max(outcome.seconds, 1e-9) / 1e9,
        "params": net.n_params(),
        "train_examples": len(train_set),
        "held_examples": len(held_set),
        "history": outcome.history,
        "processes": outcome.world,
        "replicas_agree": outcome.replicas_agree,
    }
    return {"config": net.cfg.to_dict(), "checkpoint": final, "sha256": sha, "metrics": metrics}
