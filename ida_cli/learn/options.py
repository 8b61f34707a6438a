"""The options of a training run of ML (`ida train model`, an experiment's cycles)."""

from __future__ import annotations

from dataclasses import dataclass


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
    warm: bool = False  # start from the latest version's weights (the experiment loop's cycles)
    distill: int = 0  # training questions to walk with ML in every role (docs/spec.md §2.4); 0: off
    distill_confidence: float = 0.9  # keep a walk's root answer where Adv's P(wrong) ≤ 1 − this
    bucket: bool = False  # batches of similar lengths (TrainConfig.bucket)
