"""One round of amplification (SPEC 2): pick training questions, walk their trees, store them.

Trees are walked many at a time (one batched ML call per kind per driver round) and come back in
question order. Finished trees are written in batches, each batch one short transaction, so a Ctrl-C
keeps every finished tree and discards only the ones being walked."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adversary.select import (
    STRATEGIES,
    AdversaryStrategy,
    BernoulliStrategy,
    FullStrategy,
    NoneStrategy,
    RandomStrategy,
    Strategy,
    UncertaintyStrategy,
)
from ida_cli.amplify import Scorer, Walker, require
from ida_cli.errors import Interrupted, UsageError
from ida_cli.ml import ML
from ida_cli.overseer import ScriptedOverseer
from ida_cli.store import Store, records
from ida_cli.tasks import get_task
from ida_cli.tree import Tree

FLUSH_SECONDS = 1.0
FLUSH_TREES = 500
DEFAULT_P = 0.5
# α where none is given: uncertainty recurses when ML is less sure than even odds; bernoulli when the
# adversary predicts a 0/1 loss above one half
DEFAULT_ALPHA = {"uncertainty": float(np.log(0.5)), "bernoulli": -0.5}


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
        """The values in effect (defaults filled in), as stored with the round."""
        alpha = self.alpha
        if alpha is None and self.strategy in DEFAULT_ALPHA:
            alpha = DEFAULT_ALPHA[self.strategy]
        p = DEFAULT_P if self.p is None and self.strategy == "random" else self.p
        return {"alpha": alpha, "temperature": self.temperature, "confidence": self.confidence, "p": p}


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
    model_calls: int = 0  # ML queries (answers and imitated steps), summed over trees
    ml_batches: int = 0  # batched ML calls that carried them
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
            "ml_batches": self.ml_batches,
            "nodes": self.nodes,
            "recursions_per_step": self.recursions_per_step,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "with_truth": self.with_truth,
            "seconds": round(self.seconds, 3),
            "nodes_per_second": round(self.nodes_per_second, 1),
            "status": self.status,
        }


def check_options(opts: RoundOptions, ml: ML | None = None, scorer: Scorer | None = None) -> None:
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
    if opts.pick == "adversary":
        raise UsageError("--pick adversary is not available in this version: use --pick random")
    if opts.confidence is not None:
        raise UsageError("--confidence (the primed overseer) is not available in this version: leave it out")
    require(opts.strategy, ml is not None, scorer is not None)


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


def run_round(
    store: Store,
    opts: RoundOptions,
    progress: Callable[[int, int], None] | None = None,
    ml: ML | None = None,
    scorer: Scorer | None = None,
) -> RoundResult:
    check_options(opts, ml, scorer)
    rng = np.random.default_rng(opts.seed)
    session_id = uuid.uuid4().hex
    with store.write() as con:
        task_name = opts.task or _default_task(con)
        task = get_task(task_name)
        if not task.has_expert:
            raise UsageError(f"task {task_name} has no scripted expert: label it with `ida label`")
        if ml is not None and ml.task != task_name:
            raise UsageError(
                f"the model is for task {ml.task}, not {task_name}: "
                f"train one with `ida train model --task {task_name}`"
            )
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
            params={**opts.params(), "model_version": ml.version if ml is not None else None},
            seed=opts.seed,
            questions=len(picked),
        )
    walker = Walker(
        task,
        ScriptedOverseer(task),
        make_strategy(opts.strategy, opts.alpha, opts.temperature, opts.p),
        opts.seed,
        ml=ml,
        scorer=scorer,
    )
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

    def keep(index: int, tree: Tree) -> None:
        row = rows[index]
        tree.round_id, tree.context_id = round_id, row["context_id"]
        _tally(result, tree, row)
        pending.append(tree)

    trees = walker.walk_many((row["context"], row["question"], row["id"]) for row in rows)
    done = 0

    def stop() -> int:
        # trees finished behind a slower one are kept too; only those still being walked are lost
        for index, tree in trees.finished():
            keep(index, tree)
        result.ml_batches = _ml_batches(walker)
        flush()
        return trees.unfinished

    try:
        for tree in trees:
            keep(done, tree)
            done += 1
            if len(pending) >= FLUSH_TREES or time.perf_counter() - last_flush > FLUSH_SECONDS:
                flush()
            if progress:
                progress(done, len(rows))
    except KeyboardInterrupt:
        lost = stop()
        result.status = "interrupted"
        _finish(store, round_id, session_id, "interrupted")
        discarded = (
            "the unfinished one was discarded" if lost <= 1 else f"the {lost} unfinished were discarded"
        )
        raise Interrupted(
            f"interrupted: round {round_id} kept its {len(result.tree_ids)} finished trees; {discarded}"
        ) from None
    except BaseException:
        stop()
        _finish(store, round_id, session_id, "failed")
        raise
    result.ml_batches = _ml_batches(walker)
    flush()
    _finish(store, round_id, session_id, "done")
    result.seconds = time.perf_counter() - started
    return result


def _ml_batches(walker: Walker) -> int:
    return sum(n for kind, n in walker.batches.items() if kind != "score")


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


def load_models(store: Store, opts: RoundOptions) -> tuple[ML | None, Scorer | None, list[str]]:
    """The task's current ML and adversary where they exist (a `full` round then records ML's
    answers and scores on every child: the adversary's training data), and any staleness warning."""
    from ida_cli.adversarial import load_scorer
    from ida_cli.versions import load_model

    if not store.exists():
        return None, None, []
    with store.read() as con:
        task_name = opts.task or _default_task(con)
    ml = load_model(store, task_name, required=False)
    if ml is None:
        return None, None, []
    scorer, warning = load_scorer(store, task_name, ml, required=False)
    return ml, scorer, [warning] if warning else []
