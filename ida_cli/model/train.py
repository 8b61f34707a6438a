"""Training loop and checkpoints (nanoGPT style: one checkpoint dict with weights, optimizer,
config, step and metric; loaded with weights_only=True)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ida_cli.errors import CannotWrite, IdaError, UsageError
from ida_cli.model import device
from ida_cli.model.batch import IGNORE, Example, batches, collate, exact_match, pack
from ida_cli.model.digest import sha256
from ida_cli.model.dist import Dist
from ida_cli.model.net import ModelConfig, Net


@dataclass
class TrainConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    batch: int = 32  # sequences (contexts) per step
    per_seq: int = 8  # question segments per sequence
    minutes: float = 10.0
    max_steps: int = 0  # 0: until minutes run out or early stopping
    eval_every: int = 200
    patience: int = 6  # evaluations without improvement before stopping
    clip: float = 1.0
    seed: int = 0
    slot_weight: float = 1.0  # the slot targets' share of the loss (batch.Example.slot)
    # batches of similar lengths (batch.batches): 2.1x the examples per second on wildcard's
    # amplified rows, but at 200 steps eval accuracy fell from 97.8% to 92.3% (3 seeds;
    # bench/perf/bucketing.py), so off unless asked for
    bucket: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Progress:
    step: int
    loss: float
    examples_per_s: float
    held_accuracy: float | None
    best: float | None


@dataclass
class TrainOutcome:
    step: int
    best_accuracy: float
    best_step: int
    seconds: float
    examples_seen: int
    tokens_seen: int
    stopped: str  # "early" | "time" | "steps" | "interrupted"
    history: list[dict[str, float]] = field(default_factory=list)
    world: int = 1  # processes that trained together (torchrun)
    replicas_agree: bool = True  # every process ended with the same weights


class CheckpointError(IdaError):
    exit_code = 2


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = min(1.0, (step - cfg.warmup) / max(1, total - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def planned_steps(step: int, steps_done: int, elapsed: float, remaining: float) -> int:
    """The step a time-budgeted run will end at, at its pace so far: where the cosine schedule
    reaches its floor. (A fixed guess of 4,000 steps left a 15-minute run at the floor learning
    rate for its last third.)"""
    return step + int(remaining * steps_done / max(elapsed, 1e-9))


def evaluate(
    net: Net, examples: Sequence[Example], per_seq: int, batch: int = 64
) -> tuple[float, list[bool]]:
    """Exact-match accuracy of greedy outputs (by teacher forcing; see batch.exact_match)."""
    if not examples:
        return 0.0, []
    net.eval()
    results: list[bool] = []
    seqs = pack(examples, per_seq)
    order = [ex for seq in seqs for ex in seq]
    with torch.no_grad():
        for i in range(0, len(seqs), batch):
            t = collate(seqs[i : i + batch], bag=net.cfg.bag, device=device.of(net))
            logits = net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
            results += exact_match(logits, t["tgt"], t["seg"]).tolist()
    net.train()
    by_example = dict(zip(map(id, order), results, strict=True))
    ordered = [by_example[id(ex)] for ex in examples]
    return sum(ordered) / len(ordered), ordered


def train(
    net: Net,
    optimizer: torch.optim.Optimizer,
    train_set: Sequence[Example],
    held_set: Sequence[Example],
    cfg: TrainConfig,
    start_step: int = 0,
    best: tuple[float, int] = (-1.0, 0),
    on_progress: Callable[[Progress], None] | None = None,
    on_checkpoint: Callable[[int, float, int, dict[str, Any]], None] | None = None,
    dist: Dist | None = None,
) -> tuple[TrainOutcome, dict[str, Any]]:
    """Train until time, steps or patience run out; returns the outcome and the best weights.

    Ctrl-C stops at the end of the current step and returns what is best so far. Under torchrun
    (`dist`) each process trains its share of every batch; only rank 0 reports and checkpoints."""
    dist = dist or Dist()
    dev = device.of(net)
    model = dist.wrap(net)
    if not dist.main:
        on_progress = on_checkpoint = None
    rng = np.random.default_rng(cfg.seed + start_step)
    seqs: list[list[Example]] = []  # packed sequences left over for the next batch
    queue: list[list[list[Example]]] = []
    started = time.perf_counter()
    deadline = started + cfg.minutes * 60
    step, seen, tokens = start_step, 0, 0
    best_acc, best_step = best
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    stale, stopped = 0, "time"
    history: list[dict[str, float]] = []
    est_total = cfg.max_steps or max(step + 1000, 4000)
    window: list[float] = []
    t_window = time.perf_counter()
    net.train()
    try:
        while True:
            if cfg.max_steps and step >= cfg.max_steps:
                stopped = "steps"
                break
            if dist.any(time.perf_counter() >= deadline):
                stopped = "time"
                break
            while not queue:  # a small set can take several epochs to fill one batch
                queue, seqs = batches(seqs + pack(train_set, cfg.per_seq, rng), cfg.batch, rng, cfg.bucket)
                queue.reverse()
            # every rank draws the same batch (same rng) and trains its own share of it
            batch = dist.shard(queue.pop())
            t = collate(batch, bag=net.cfg.bag, device=dev)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg, est_total)
            loss = batch_loss(model, t, cfg.slot_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            optimizer.step()
            step += 1
            seen += sum(len(s) for s in batch)
            # real tokens only (no padding): one per slot, one per sequence position
            tokens += int((t["slots"][:, :, 0] != 0).sum() + (t["seg"] >= 0).sum())
            window.append(loss.item())
            if step % cfg.eval_every == 0:
                acc = _held_accuracy(net, held_set, cfg.per_seq, dist)
                elapsed = time.perf_counter() - t_window
                history.append(_point(step, window, acc, started))
                if not cfg.max_steps:  # re-plan the schedule to end with the time budget
                    now = time.perf_counter()
                    plan = planned_steps(step, step - start_step, now - started, max(deadline - now, 0.0))
                    est_total = max(int(dist.sum([plan])[0] / dist.world), step + 1)  # the same on every rank
                if acc > best_acc:
                    best_acc, best_step, stale = acc, step, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    stale += 1
                if on_progress:
                    on_progress(
                        Progress(
                            step,
                            sum(window) / len(window),
                            cfg.eval_every * cfg.batch * cfg.per_seq / max(elapsed, 1e-9),
                            acc,
                            best_acc,
                        )
                    )
                if on_checkpoint:
                    on_checkpoint(step, best_acc, best_step, best_state)
                window, t_window = [], time.perf_counter()
                if best_acc >= 1.0 or stale >= cfg.patience:
                    stopped = "early"
                    break
            elif on_progress and step % 20 == 0:
                on_progress(Progress(step, loss.item(), 0.0, None, best_acc if best_acc >= 0 else None))
    except KeyboardInterrupt:
        stopped = "interrupted"
    judged = history[-1]["step"] if history else start_step
    # The steps after the last evaluation are judged too. When the time budget ends a run, they
    # are the ones at the cosine's floor: an experiment's 21-s cycle (~200 steps, evaluated at
    # step 100, at the end of the warmup) kept the peak-rate weights of step 100 and threw the
    # annealed ones away (wildcard: 76.5% after 20 cycles; the same data trained once, 93%)
    if best_acc < 0 or (stopped in ("time", "steps") and step > judged):
        acc = _held_accuracy(net, held_set, cfg.per_seq, dist)
        if window:  # steps since the last evaluation
            history.append(_point(step, window, acc, started))
        if acc >= best_acc:  # a tie goes to the weights trained longer
            best_acc, best_step = acc, step
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    agree = stopped == "interrupted" or dist.agree(net.state_dict())
    if stopped != "interrupted":
        seen, tokens = (int(v) for v in dist.sum([seen, tokens]))
    outcome = TrainOutcome(
        step, best_acc, best_step, time.perf_counter() - started, seen, tokens, stopped, history
    )
    outcome.world, outcome.replicas_agree = dist.world, agree
    return outcome, best_state


def _point(step: int, window: list[float], acc: float, started: float) -> dict[str, float]:
    """One evaluation in a run's history: the mean loss since the last one, held-out accuracy."""
    return {
        "step": step,
        "loss": sum(window) / len(window),
        "held_accuracy": acc,
        "seconds": time.perf_counter() - started,
    }


def batch_loss(model: Any, t: dict[str, torch.Tensor], slot_weight: float) -> torch.Tensor:
    """Cross-entropy of the outputs, plus that of the slot targets where a batch has any."""
    slot_tgt = t["slot_tgt"]
    with_slots = slot_weight > 0 and bool((slot_tgt != IGNORE).any())
    out = model(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"), with_slots=with_slots)
    logits, slot_logits = out if with_slots else (out, None)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t["tgt"].reshape(-1), ignore_index=IGNORE)
    if slot_logits is not None:
        tgt = slot_tgt[:, : slot_logits.shape[1]]
        loss = loss + slot_weight * F.cross_entropy(
            slot_logits.reshape(-1, slot_logits.shape[-1]), tgt.reshape(-1), ignore_index=IGNORE
        )
    return loss


def split_loss(model: Any, parts: Sequence[dict[str, torch.Tensor]], slot_weight: float) -> float:
    """`batch_loss` of the batch whose sub-batches are `parts` (each padded only to its own
    longest), backpropagated part by part: the same loss and gradient, at the cost of the positions
    that are not padding. Returns the loss."""
    n_tgt = sum(int((t["tgt"] != IGNORE).sum()) for t in parts)
    n_slot = sum(int((t["slot_tgt"] != IGNORE).sum()) for t in parts) if slot_weight > 0 else 0
    total = 0.0
    for t in parts:
        with_slots = n_slot > 0 and bool((t["slot_tgt"] != IGNORE).any())
        out = model(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"), with_slots=with_slots)
        logits, slot_logits = out if with_slots else (out, None)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), t["tgt"].reshape(-1), ignore_index=IGNORE, reduction="sum"
        ) / max(1, n_tgt)
        if slot_logits is not None:
            tgt = t["slot_tgt"][:, : slot_logits.shape[1]]
            flat = slot_logits.reshape(-1, slot_logits.shape[-1])
            slot_sum = F.cross_entropy(flat, tgt.reshape(-1), ignore_index=IGNORE, reduction="sum")
            loss = loss + slot_weight * slot_sum / n_slot
        loss.backward()
        total += float(loss.detach())
    return total


def _held_accuracy(net: Net, held_set: Sequence[Example], per_seq: int, dist: Dist) -> float:
    """Each rank judges its share of the held-out examples; the counts are summed."""
    _, results = evaluate(net, dist.shard(held_set), per_seq)
    right, total = dist.sum([sum(results), len(results)])
    return right / total if total else 0.0


# -- checkpoints --------------------------------------------------------------------------------
def save_checkpoint(path: Path, payload: dict[str, Any]) -> str:
    """Write atomically (temp file + rename); return the file's SHA-256."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as e:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise CannotWrite(
            f"cannot write checkpoint {path} ({e.strerror or e}): free space or fix the folder's "
            "permissions, then run the command again"
        ) from None
    return sha256(path)


def load_checkpoint(path: Path, expected_sha: str | None, kind: str = "model") -> dict[str, Any]:
    """A verified checkpoint dict; `kind` (model or adversary) names the command that remakes it."""
    retrain = f"retrain with `ida train {kind}`"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is missing: {retrain}")
    if expected_sha is not None and sha256(path) != expected_sha:
        raise CheckpointError(
            f"checkpoint {path} does not match its recorded SHA-256 (changed or truncated): {retrain}"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged file
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(e).__name__}): {retrain}") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CheckpointError(f"checkpoint {path} is not an ida model checkpoint")
    return payload


def build(config: dict[str, Any]) -> Net:
    try:
        return Net(ModelConfig(**config))
    except TypeError as e:
        raise UsageError(
            f"checkpoint config does not fit this ida ({e}): retrain with `ida train model`"
        ) from None
