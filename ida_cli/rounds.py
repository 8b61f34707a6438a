"""One round of amplification (SPEC 2): pick training questions, walk their trees, store them.

Finished trees are written in batches, each batch one short transaction, so a Ctrl-C keeps every
finished tree and discards only the one being walked."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adversary.select import NEEDS_SCORES, STRATEGIES
from ida_cli.amplify import FullStrategy, Strategy, Walker
from ida_cli.errors import Interrupted, UsageError
from ida_cli.overseer import ScriptedOverseer
from ida_cli.store import Store, records
from ida_cli.tasks import get_task
from ida_cli.tree import Tree

FLUSH_SECONDS = 1.0
FLUSH_TREES = 500


@dataclass
class RoundOptions:
    task: str | None = None
    oracle: str = "scripted"
    strategy: str = "full"
    questions: int = 10
    pick: str = "random"
    seed: int = 0
    alpha: float | None = None
    temperature: float = 1.0
    confidence: float | None = None
    p: float | None = None

    def params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "temperature": self.temperature,
            "confidence": self.confidence,
            "p": self.p,
        }


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
    model_calls: int = 0
    nodes: int = 0
    steps: int = 0  # overseer steps that asked subquestions
    recursions: int = 0  # subquestions the overseer recursed on
    correct: int = 0
    with_truth: int = 0
    seconds: float = 0.0
    status: str = "done"

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
            "model_calls": self.model_calls,
            "nodes": self.nodes,
            "recursions_per_step": self.recursions_per_step,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "with_truth": self.with_truth,
            "seconds": round(self.seconds, 3),
            "nodes_per_second": round(self.nodes_per_second, 1),
            "status": self.status,
        }


def check_options(opts: RoundOptions) -> None:
    """Refuse option sets that make no sense before anything is opened or written."""
    if opts.strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy '{opts.strategy}': use one of {', '.join(STRATEGIES)}")
    if opts.oracle not in ("scripted", "human"):
        raise UsageError(f"unknown oracle '{opts.oracle}': use --oracle scripted or --oracle human")
    if opts.pick not in ("random", "adversary"):
        raise UsageError(f"unknown pick '{opts.pick}': use --pick random or --pick adversary")
    if opts.questions < 1:
        raise UsageError("--questions must be at least 1")
    if opts.temperature <= 0:
        raise UsageError("--temperature must be greater than 0")
    if opts.alpha is not None and opts.strategy not in ("bernoulli", "uncertainty"):
        raise UsageError(f"--alpha applies to --strategy bernoulli or uncertainty, not {opts.strategy}")
    if opts.p is not None and opts.strategy != "random":
        raise UsageError("--p applies to --strategy random only")
    if opts.p is not None and not 0 <= opts.p <= 1:
        raise UsageError("--p must be between 0 and 1")
    if opts.oracle == "human":
        raise UsageError("--oracle human is not available in this version: use --oracle scripted")
    if (
        opts.strategy in NEEDS_SCORES
        or opts.strategy == "none"
        or opts.pick == "adversary"
        or opts.confidence is not None
    ):
        raise UsageError(
            f"--strategy {opts.strategy} / --pick {opts.pick} / --confidence need a trained model "
            "and adversary, which this version cannot train yet: use --strategy full"
        )


def make_strategy(opts: RoundOptions) -> Strategy:
    return FullStrategy()


def run_round(
    store: Store, opts: RoundOptions, progress: Callable[[int, int], None] | None = None
) -> RoundResult:
    check_options(opts)
    rng = np.random.default_rng(opts.seed)
    session_id = uuid.uuid4().hex
    with store.write() as con:
        task_name = opts.task or _default_task(con)
        task = get_task(task_name)
        if not task.has_expert:
            raise UsageError(f"task {task_name} has no scripted expert: label it with `ida label`")
        pool = records.unlabelled_pool(con, task_name)
        if not pool:
            raise UsageError(
                f"no unlabelled training questions left for task {task_name}: run "
                f"`ida questions generate --task {task_name} --size N --count C --seed S`"
            )
        picked = sorted(int(i) for i in rng.choice(pool, size=min(opts.questions, len(pool)), replace=False))
        rows = records.load_questions(con, picked)
        records.create_session(con, session_id, "round", opts.oracle, os.getpid())
        round_id = records.create_round(
            con,
            session_id=session_id,
            task=task_name,
            oracle=opts.oracle,
            strategy=opts.strategy,
            pick=opts.pick,
            params=opts.params(),
            seed=opts.seed,
            questions=len(picked),
        )
    walker = Walker(task, ScriptedOverseer(task), make_strategy(opts), rng)
    result = RoundResult(round_id, task_name, opts.strategy, opts.oracle, opts.questions, 0)
    pending: list[Tree] = []
    last_flush = started = time.perf_counter()

    def flush() -> None:
        nonlocal pending, last_flush
        if pending:
            with store.write() as con:
                records.write_trees(con, pending, session_id)
            result.tree_ids.extend(t.id for t in pending)
            pending = []
        last_flush = time.perf_counter()

    try:
        for done, row in enumerate(rows):
            tree = walker.walk(row["context"], row["question"], question_id=row["id"])
            tree.round_id, tree.context_id = round_id, row["context_id"]
            _tally(result, tree, row)
            pending.append(tree)
            if len(pending) >= FLUSH_TREES or time.perf_counter() - last_flush > FLUSH_SECONDS:
                flush()
            if progress:
                progress(done + 1, len(rows))
    except KeyboardInterrupt:
        flush()
        result.status = "interrupted"
        _finish(store, round_id, session_id, "interrupted")
        raise Interrupted(
            f"interrupted: round {round_id} kept its {len(result.tree_ids)} finished trees; "
            "the unfinished one was discarded"
        ) from None
    except BaseException:
        flush()
        _finish(store, round_id, session_id, "failed")
        raise
    flush()
    _finish(store, round_id, session_id, "done")
    result.seconds = time.perf_counter() - started
    return result


def _finish(store: Store, round_id: int, session_id: str, status: str) -> None:
    with store.write() as con:
        records.finish_round(con, round_id, status)
        records.end_session(con, session_id, status)


def _tally(result: RoundResult, tree: Tree, row: dict[str, Any]) -> None:
    result.trees += 1
    result.overseer_calls += tree.overseer_calls
    result.primitive_calls += tree.primitive_calls
    result.model_calls += tree.model_calls
    for node in tree.root.walk():
        result.nodes += 1
        if node.children:
            steps = {c.step for c in node.children}
            result.steps += len(steps)
            result.recursions += sum(c.recursed for c in node.children)
    if row["has_truth"]:
        result.with_truth += 1
        result.correct += tree.root.answer == row["truth"]


def _default_task(con: Any) -> str:
    tasks = records.question_tasks(con, "train")
    default = records.get_settings(con).get("task")
    if default in tasks:
        return str(default)
    if len(tasks) == 1:
        return tasks[0]
    if not tasks:
        raise UsageError(
            "no training questions yet: run `ida questions generate --task T --size N --count C --seed S`"
        )
    raise UsageError(f"several tasks have questions ({', '.join(tasks)}): choose one with --task")
