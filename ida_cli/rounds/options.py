"""What a round is asked to do and what it did: `RoundOptions` (checked before anything is opened),
the strategy objects they name, and `RoundResult`."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ida_cli.errors import UsageError
from ida_cli.walk.ports import ML, Scorer, require, require_primed, require_primer
from ida_cli.walk.selection import STRATEGIES, THRESHOLD_STRATEGIES, Selection, check_memo
from ida_cli.walk.strategies import (
    AdversaryStrategy,
    BernoulliStrategy,
    FullStrategy,
    NoneStrategy,
    RandomStrategy,
    Strategy,
    UncertaintyStrategy,
    anneal,
)

DEFAULT_P = 0.5
# α where none is given: uncertainty recurses when ML is less sure than even odds; bernoulli when the
# adversary predicts a 0/1 loss above one half
DEFAULT_ALPHA = {"uncertainty": float(np.log(0.5)), "bernoulli": -0.5}


@dataclass
class RoundOptions(Selection):
    """A round's options: the selection parameters (walk/selection.py) and what the round walks."""

    strategy: str = "full"
    task: str | None = None
    oracle: str = "scripted"
    questions: int = 10
    pick: str = "random"
    memo: bool = True  # the scripted expert, a pure function, answers a repeated subquestion from memory
    memo_stand_ins: bool = False  # the memo also answers subquestions left to ML (walk/walker.py)
    memo_primed: bool = False  # the memo also keeps the primed overseer's answers (walk/walker.py)
    alpha_end: float | None = None  # anneal α linearly to this over the round's trees
    workers: int | None = None  # walk in this many local processes (rounds/parallel.py); None: here
    ray: str | None = None  # or on the Ray cluster at this address

    @property
    def alpha_start(self) -> float | None:
        if self.alpha is None and self.strategy in DEFAULT_ALPHA:
            return DEFAULT_ALPHA[self.strategy]
        return self.alpha

    def params(self) -> dict[str, Any]:
        """The values in effect (defaults filled in), as stored with the round."""
        p = DEFAULT_P if self.p is None and self.strategy == "random" else self.p
        return {
            "alpha": self.alpha_start,
            "alpha_end": self.alpha_end,
            "temperature": self.temperature,
            "confidence": self.confidence,
            "prime_rate": self.prime_rate,
            "p": p,
            "memo": self.memo,
            "memo_stand_ins": self.memo_stand_ins,
            "memo_primed": self.memo_primed,
        }

    def strategy_at(self, trees: int) -> Callable[[int], Strategy] | None:
        """With --alpha-end, the strategy of tree number i of `trees`: α from alpha (tree 0) to
        alpha_end (the last tree) linearly; None without a schedule."""
        start = self.alpha_start
        if self.alpha_end is None or start is None:
            return None
        end, last = self.alpha_end, max(trees - 1, 1)
        return lambda i: make_strategy(self.strategy, anneal(start, end, i / last), self.temperature, self.p)


@dataclass
class RoundResult:
    round_id: int
    task: str
    strategy: str
    oracle: str
    asked: int
    trees: int
    tree_ids: list[int] = field(default_factory=list)
    overseer_calls: int = 0
    primitive_calls: int = 0
    memo_hits: int = 0
    model_calls: int = 0  # ML queries (answers and imitated steps), summed over trees
    ml_batches: int = 0  # batched ML calls that carried them
    nodes: int = 0
    steps: int = 0  # overseer steps that asked subquestions
    model_steps: int = 0  # fan-outs / fan-ins the primed overseer H' took from ML (docs/spec.md §2.3)
    recursions: int = 0  # subquestions the overseer recursed on
    correct: int = 0
    with_truth: int = 0
    seconds: float = 0.0
    status: str = "done"
    pick_info: dict[str, Any] = field(default_factory=dict)  # --pick adversary: candidates, mean S

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.with_truth if self.with_truth else None

    @property
    def nodes_per_second(self) -> float:
        return self.nodes / self.seconds if self.seconds else 0.0

    @property
    def recursions_per_step(self) -> float | None:
        return self.recursions / self.steps if self.steps else None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round_id,
            "task": self.task,
            "strategy": self.strategy,
            "oracle": self.oracle,
            "questions": self.trees,
            "trees": self.tree_ids,
            "overseer_calls": self.overseer_calls,
            "primitive_calls": self.primitive_calls,
            "memo_hits": self.memo_hits,
            "model_calls": self.model_calls,
            "model_steps": self.model_steps,
            "ml_batches": self.ml_batches,
            "nodes": self.nodes,
            "recursions_per_step": self.recursions_per_step,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "with_truth": self.with_truth,
            "seconds": round(self.seconds, 3),
            "nodes_per_second": round(self.nodes_per_second, 1),
            "status": self.status,
            **self.pick_info,
        }


def check_options(opts: RoundOptions, ml: ML | None = None, scorer: Scorer | None = None) -> None:
    """Refuse option sets that make no sense before anything is opened or written."""
    opts.check()
    if opts.oracle not in ("scripted", "human"):
        raise UsageError(f"unknown oracle '{opts.oracle}': use --oracle scripted (a person: `ida label`)")
    if opts.pick not in ("random", "adversary"):
        raise UsageError(f"unknown pick '{opts.pick}': use --pick random or --pick adversary")
    if opts.questions < 1:
        raise UsageError("--questions must be at least 1")
    check_memo(opts.memo, opts.memo_stand_ins, opts.memo_primed)
    if opts.alpha_end is not None and opts.strategy not in THRESHOLD_STRATEGIES:
        raise UsageError(f"--alpha-end applies to --strategy bernoulli or uncertainty, not {opts.strategy}")
    if opts.alpha_end is not None and not np.isfinite(opts.alpha_end):
        raise UsageError("--alpha-end must be a finite number")
    if opts.oracle == "human":
        raise UsageError(
            "a round with a person as the overseer is `ida label`: run `ida label` at a terminal "
            "(`ida round` amplifies with the scripted expert)"
        )
    if opts.workers is not None or opts.ray is not None:
        check_parallel(opts.workers, opts.ray)
    require(opts.strategy, ml is not None, scorer is not None)
    if opts.pick == "adversary":
        require_primed("--pick adversary", ml is not None, scorer)
    by, threshold = opts.priming()
    if threshold is not None:
        require_primer(by, ml is not None, scorer)


def make_strategy(
    name: str, alpha: float | None = None, temperature: float = 1.0, p: float | None = None
) -> Strategy:
    if name not in STRATEGIES:
        raise UsageError(f"unknown strategy '{name}': use one of {', '.join(STRATEGIES)}")
    if name == "full":
        return FullStrategy()
    if name == "none":
        return NoneStrategy()
    if name == "random":
        return RandomStrategy(DEFAULT_P if p is None else p)
    if name == "adversary":
        return AdversaryStrategy(temperature)
    a = DEFAULT_ALPHA[name] if alpha is None else alpha
    return BernoulliStrategy(a, temperature) if name == "bernoulli" else UncertaintyStrategy(a, temperature)


def check_parallel(workers: int | None, ray: str | None) -> None:
    if workers is not None and ray is not None:
        raise UsageError("--workers and --ray do not go together: use one of them")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    if ray is not None and not ray.strip():
        raise UsageError("--ray needs the address of a Ray cluster, e.g. --ray 127.0.0.1:6379 or --ray auto")
    if ray is not None and importlib.util.find_spec("ray") is None:
        raise UsageError("--ray needs Ray, which is not installed: pip install 'ida[ray]'")
