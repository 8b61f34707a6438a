"""The options of a training run of ML (`ida train model`, an experiment's cycles)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ida_cli import checks
from ida_cli.errors import UsageError
from ida_cli.model.device import check as check_device


@dataclass
class TrainModelOptions:
    task: str | None = None
    supervised: bool = False
    minutes: float = 10.0
    max_steps: int = 0
    resume: bool = False
    seed: int = 0
    device: str = "auto"
    layers: int | None = None
    loop: int | None = None
    width: int | None = None
    batch: int = 32
    per_seq: int = 8
    eval_every: int = 200
    patience: int = 6
    lr: float = 1e-3
    # the latest version's weights and optimizer state are trained on when its recipe matches (the
    # default): `fresh` starts from scratch; `warm` insists (an error where it cannot continue)
    fresh: bool = False
    warm: bool = False
    distill: int = 0  # training questions to walk with ML in every role (docs/spec.md §2.4); 0: off
    distill_confidence: float = 0.9  # keep a walk's root answer where Adv's P(wrong) ≤ 1 − this
    bucket: bool = False  # batches of similar lengths (TrainConfig.bucket)

    def check(self) -> None:
        """Refuse nonsense before anything is written (no version row, no version number used)."""
        check_budget(self.minutes, self.max_steps)
        check_shape(self.layers, self.width, self.batch, self.lr, self.eval_every, self.patience)
        checks.at_least("--loop", self.loop, 1)
        checks.at_least("--per-context", self.per_seq, 1)
        checks.seed(self.seed)
        check_device(self.device)  # torch only for a CUDA name
        if self.fresh and (self.warm or self.resume):
            raise UsageError("--fresh starts from scratch: drop --warm / --resume")


def check_budget(minutes: float, max_steps: int) -> None:
    """A time budget and a step cap (0: none); the time budget always applies, so it must be
    positive, and finite unless the steps are capped."""
    if math.isnan(minutes) or minutes <= 0:
        raise UsageError(f"--minutes must be greater than 0, not {minutes}")
    if math.isinf(minutes) and not max_steps:
        raise UsageError("--minutes must be a finite number (or give --max-steps)")
    checks.at_least("--max-steps", max_steps, 0, " (0: no limit)")


def check_shape(
    layers: int | None, width: int | None, batch: int, lr: float, eval_every: int, patience: int
) -> None:
    """The network and loop flags ML and the adversary share."""
    from ida_cli.model.net import ModelConfig  # torch: only a training run checks these

    heads = ModelConfig.heads  # ML and the adversary split their width among as many heads
    checks.at_least("--layers", layers, 1)
    checks.at_least("--width", width, heads)
    if width is not None and width % heads:
        raise UsageError(f"--width must be a multiple of {heads} (the attention heads), not {width}")
    checks.at_least("--batch", batch, 1)
    checks.positive("--lr", lr)
    checks.at_least("--eval-every", eval_every, 1)
    checks.at_least("--patience", patience, 1)
