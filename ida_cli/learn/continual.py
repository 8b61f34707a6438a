"""The online engine's learner (torch side): ML trained continuously, never from scratch.

The 2018 paper's code trains one answerer for its whole run (PAPER-LOOP in ../shared): batches are
drawn from a replay of everything amplified so far, and the targets and stand-in answers come from
a *teacher*, an exponential moving average of the student's weights. Here the replay keeps every
stored row (an overseer's label is never evicted: a 2-core run holds a few tens of thousands),
the rate stays constant after its warm-up (no cosine restarts: the EMA does the annealing), and
the whole state (student, teacher, AdamW's moments, the sampler's generator) is one checkpoint
dict, so a killed run continues with the very batches it would have drawn."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ida_cli.model.batch import Example, collate, length_groups, pack, seq_length
from ida_cli.model.net import TASK_DEFAULTS, ModelConfig, Net, set_seed
from ida_cli.model.train import build, split_loss
from ida_cli.model.vocab import Vocab, answer_tokens, context_slots, input_tokens, step_tokens
from ida_cli.tasks import get_task

if TYPE_CHECKING:
    from ida_cli.learn.data import ReplayCache, Rows
    from ida_cli.model.decode import TorchML
    from ida_cli.store.questions import QuestionRow


# positions' worth of fixed cost a sub-batch adds (a forward and backward through every layer):
# measured on unionfind's 8 layers, bench/probes/split_batch.py
GROUP_OVERHEAD = 128


@dataclass
class LearnerConfig:
    lr: float = 1e-3
    warmup: int = 100
    batch: int = 32  # sequences (contexts) per step
    per_seq: int = 8  # question segments per sequence
    clip: float = 1.0
    # the teacher's horizon in steps (decay 1 − 1/horizon): the paper's 1,000 at 400,000 steps; a
    # run here takes a few thousand
    ema_horizon: int = 100
    seed: int = 0
    # the chance that a drawn fan-out or fan-in row stays in its step's batch (answers always
    # stay): those rows carry transcripts, and on unionfind they made a step cost 2.6x a supervised
    # one (bench/probes/step_cost.py); 1: every drawn row, as before
    step_share: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def vocabulary(task_name: str, sample: list[QuestionRow], rows: Rows) -> Vocab:
    """A vocabulary fixed for the whole run: the tokens of the scripted expert's full trees over a
    sample of the training pool, and of the rows so far. A model that never restarts cannot grow
    its embedding as new rows arrive; a token seen in none of these reads as <unk>."""
    from ida_cli.learn.evaluate import expert_steps
    from ida_cli.vocabulary import Answer

    task = get_task(task_name)
    seen: set[str] = set()
    for row in sample:
        for slot in context_slots(task, row.context):
            seen.update(slot)
        if not task.has_expert:
            continue
        for mode, q, transcript, y in expert_steps(task, row.context, row.question, 200):
            seen.update(input_tokens(task, mode, q, transcript))
            seen.update(step_tokens(task, q, y))
            if isinstance(y, Answer):
                seen.update(input_tokens(task, "answer", q))
                seen.update(answer_tokens(task, q, y.value))
    for _, _ctx, mode, q, said, target in rows.items:
        seen.update(input_tokens(task, mode, q, said))
        seen.update(answer_tokens(task, q, target) if mode == "answer" else step_tokens(task, q, target))
    return Vocab.build(seen)


def _longest(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: max(a.get(k, 0), b.get(k, 0)) for k in a.keys() | b.keys()}


class Learner:
    """ML's student and teacher, their optimizer and the replay they sample."""

    def __init__(
        self, task: str, vocab: Vocab, net: Net, cfg: LearnerConfig, device: torch.device | None = None
    ) -> None:
        from ida_cli.learn.runner import threads

        torch.set_num_threads(threads())
        # student, teacher and AdamW's moments on one device (model/device.py): moved before the
        # copies and the optimizer are made
        self.device = device or torch.device("cpu")
        self.task, self.vocab, self.net, self.cfg = task, vocab, net.to(self.device), cfg
        self.teacher_net = copy.deepcopy(net).eval()
        for p in self.teacher_net.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.01)
        self.step = 0
        self.rng = np.random.default_rng(cfg.seed)
        self.seqs: list[list[Example]] = []
        self.lengths: list[int] = []
        self.examples = 0
        self.max_out: dict[str, int] = {}

    # -- making one --------------------------------------------------------------------------------
    @classmethod
    def fresh(
        cls, task: str, vocab: Vocab, cfg: LearnerConfig, device: torch.device | None = None
    ) -> Learner:
        set_seed(cfg.seed)
        dims = TASK_DEFAULTS.get(task, {})
        roles, role_of, value_of = vocab.factors()
        net = Net(ModelConfig(vocab_size=len(vocab), roles=roles, role_of=role_of, value_of=value_of, **dims))
        return cls(task, vocab, net, cfg, device)

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device | None = None) -> Learner:
        """A learner exactly as `state()` left it (on `device`, whichever device it was saved from)."""
        learner = cls(
            state["task"],
            Vocab(list(state["vocab"])),
            build(state["config"]),
            LearnerConfig(**state["learner"]),
            device,
        )
        learner.net.load_state_dict(state["model"])
        learner.teacher_net.load_state_dict(state["teacher"])
        learner.optimizer.load_state_dict(state["optimizer"])
        learner.step = int(state["step"])
        learner.rng.bit_generator.state = json.loads(state["rng"])
        learner.max_out = dict(state["max_out"])
        return learner

    def state(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "vocab": self.vocab.tokens,
            "config": self.net.cfg.to_dict(),
            "learner": self.cfg.to_dict(),
            "model": self.net.state_dict(),
            "teacher": self.teacher_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            # 128-bit integers: as text, so the checkpoint loads with weights_only=True
            "rng": json.dumps(self.rng.bit_generator.state),
            "max_out": self.max_out,
        }

    # -- the replay --------------------------------------------------------------------------------
    def set_data(self, rows: Rows, cache: ReplayCache | None = None) -> None:
        """Every stored row, packed into sequences of one context each (a context is encoded once for
        all its questions). Called after each round: a new row is in the very next batch's draw.
        `cache`: the examples of rows tokenized before under this vocabulary, and their longest
        targets (`ReplayCache`)."""
        from ida_cli.learn.runner import max_out, to_examples

        memo = cache.memo(self.vocab.tokens) if cache is not None else None
        before = len(memo) if memo is not None else 0
        examples, _ = to_examples(self.task, rows, self.vocab, memo)
        if cache is not None and memo is not None and rows.keys:
            # the memo's examples in order of insertion: this call's are its last
            cache.longest = max_out(list(islice(reversed(memo.values()), len(memo) - before)), cache.longest)
            keyless = [examples[i] for i, key in enumerate(rows.keys) if key is None]
            self.max_out = max_out(keyless, _longest(self.max_out, cache.longest))
        else:
            self.max_out = max_out(examples, self.max_out)
        self.examples = len(examples)
        self.seqs = pack(examples, self.cfg.per_seq, self.rng)
        self.lengths = [seq_length(seq, self.net.cfg.bag) for seq in self.seqs]

    def train(self, steps: int, deadline: float = float("inf")) -> dict[str, float]:
        """`steps` steps on sequences drawn uniformly from the replay, the teacher following each."""
        if not self.seqs:
            return {"steps": 0, "loss": float("nan"), "seconds": 0.0}
        self.net.train()
        started, losses = time.perf_counter(), []
        decay_cap = 1.0 - 1.0 / max(1, self.cfg.ema_horizon)
        for _ in range(steps):
            if time.perf_counter() >= deadline:
                break
            picks = self.rng.integers(len(self.seqs), size=min(self.cfg.batch, len(self.seqs)))
            drawn, lengths = [self.seqs[i] for i in picks], [self.lengths[i] for i in picks]
            if self.cfg.step_share < 1.0:
                drawn, lengths = self._thin(drawn)
            groups = length_groups(lengths, GROUP_OVERHEAD)
            parts = [collate([drawn[i] for i in g], bag=self.net.cfg.bag, device=self.device) for g in groups]
            lr = self.cfg.lr * min(1.0, (self.step + 1) / max(1, self.cfg.warmup))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.optimizer.zero_grad(set_to_none=True)
            loss = split_loss(self.net, parts, 1.0)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.clip)
            self.optimizer.step()
            self.step += 1
            # early on the teacher follows closely (the usual bias-free ramp), later with the horizon
            self._follow(min(decay_cap, (1 + self.step) / (10 + self.step)))
            losses.append(loss)
        return {
            "steps": len(losses),
            "loss": sum(losses) / len(losses) if losses else float("nan"),
            "seconds": time.perf_counter() - started,
        }

    def _thin(self, drawn: list[list[Example]]) -> tuple[list[list[Example]], list[int]]:
        """The drawn sequences with each step row kept at `step_share` (answers always), and their
        lengths; a sequence left with no row drops out of the batch."""
        keep = self.rng.random(sum(len(seq) for seq in drawn)) < self.cfg.step_share
        out, at = [], 0
        for seq in drawn:
            kept = [ex for j, ex in enumerate(seq) if keep[at + j] or ex.kind.startswith("answer")]
            at += len(seq)
            if kept:
                out.append(kept)
        return out, [seq_length(seq, self.net.cfg.bag) for seq in out]

    @torch.no_grad()
    def _follow(self, decay: float) -> None:
        for t, s in zip(self.teacher_net.parameters(), self.net.parameters(), strict=True):
            t.mul_(decay).add_(s.detach(), alpha=1.0 - decay)
        for b, c in zip(self.teacher_net.buffers(), self.net.buffers(), strict=True):
            b.copy_(c)

    # -- the teacher at work -----------------------------------------------------------------------
    def teacher_payload(self) -> dict[str, Any]:
        """The teacher as a model version's checkpoint (what `ida round`, `ida eval` and audits load)."""
        return {
            "config": self.net.cfg.to_dict(),
            "vocab": self.vocab.tokens,
            "task": self.task,
            "train_config": {**self.cfg.to_dict(), "schedule": "online"},
            "max_out": self.max_out,
            "model": {k: v.detach().clone() for k, v in self.teacher_net.state_dict().items()},
            "step": self.step,
            "metric": None,
            "best_step": self.step,
        }

    def teacher(self, version: int) -> TorchML:
        from ida_cli.model.decode import TorchML

        # its own copy: the walker and the adversary read it while the student goes on training
        net = copy.deepcopy(self.teacher_net).eval()
        return TorchML(net, self.vocab, self.task, version, self.cfg.per_seq, self.max_out)
