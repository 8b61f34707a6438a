"""Extra training targets from the distillation walk (docs/spec.md §2.4): ML in every role walks training
questions with zero overseer calls; a root answer becomes a target for ML.answer only where the
adversary is confident that it is right (calibrated P(wrong) ≤ 1 − confidence)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ida_cli.errors import UsageError
from ida_cli.store import Store, questions
from ida_cli.tasks import get_task
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, canonical
from ida_cli.walk.walker import MODEL_TREE_MAX_NODES

if TYPE_CHECKING:
    from ida_cli.vocabulary import Tree
    from ida_cli.walk.ports import ML

# The distillation walk has an untrained model for an overseer: its trees are bounded as the
# walker bounds every tree that ML grows.
DISTILL_MAX_DEPTH = 40
DISTILL_MAX_NODES = MODEL_TREE_MAX_NODES


@dataclass
class DistillTargets:
    rows: list[tuple[int, Any, str, Any, list[tuple[Any, Any]], Any]]
    walked: int
    kept: int
    model_calls: int
    kept_right: int | None  # of the kept targets, how many equal the ground truth (where known)
    model_version: int
    adversary_version: int

    def stats(self) -> dict[str, Any]:
        return {
            "walked": self.walked,
            "kept": self.kept,
            "model_calls": self.model_calls,
            "kept_accuracy": None
            if not self.kept or self.kept_right is None
            else self.kept_right / self.kept,
            "model_version": self.model_version,
            "adversary_version": self.adversary_version,
        }


def check_options(count: int, confidence: float, supervised: bool) -> None:
    if count < 0:
        raise UsageError("--distill must be 0 (off) or a number of training questions to walk")
    if count and supervised:
        raise UsageError("--distill adds targets to amplified training: drop --supervised or --distill")
    if not 0.0 < confidence <= 1.0:
        raise UsageError("--distill-confidence must be in (0, 1], e.g. 0.9")


def distill_targets(store: Store, task_name: str, count: int, confidence: float, seed: int) -> DistillTargets:
    from ida_cli.learn.adversarial import load_scorer
    from ida_cli.learn.versions import load_model

    ml = load_model(store, task_name)
    assert ml is not None  # required=True raises with the command to run
    scorer, _ = load_scorer(store, task_name, ml)
    assert scorer is not None
    with store.read() as con:
        # a seeded sample of training questions (never the eval split)
        picked = questions.sample_train(con, task_name, seed, count)
    task = get_task(task_name)
    items = [(r.context, r.question, r.id) for r in picked]
    trees = distill(task, items, ml, seed=seed)
    answers: list[JSON] = [t.root.answer for t in trees]
    scores = scorer.score([(ctx, q, a) for (ctx, q, _), a in zip(items, answers, strict=True)])
    rows: list[tuple[int, Any, str, Any, list[tuple[Any, Any]], Any]] = []
    right, known = 0, True
    for r, a, s in zip(picked, answers, scores, strict=True):
        if a == UNKNOWN or -s > 1.0 - confidence:
            continue
        rows.append((r.context_id, r.context, "answer", r.question, [], a))
        if r.truth is None:
            known = False
        elif canonical(r.truth) == canonical(a):
            right += 1
    return DistillTargets(
        rows,
        walked=len(trees),
        kept=len(rows),
        model_calls=sum(t.model_calls for t in trees),
        kept_right=right if known else None,
        model_version=ml.version,
        adversary_version=scorer.version,
    )


def distill(
    task: Task,
    items: Iterable[tuple[JSON, JSON, int | None]],
    ml: ML,
    seed: int = 0,
    max_depth: int = DISTILL_MAX_DEPTH,
    max_nodes: int = DISTILL_MAX_NODES,
    concurrency: int | None = None,
) -> list[Tree]:
    """The distillation walk (docs/spec.md §2.4): ML decomposes, answers and recombines (strategy full, up to
    the guards, where ML's answer stands in): zero overseer calls. Trees have source "distill"."""
    from ida_cli.walk.overseer import ModelOverseer
    from ida_cli.walk.strategies import FullStrategy
    from ida_cli.walk.walker import DEFAULT_CONCURRENCY, Walker

    walker = Walker(
        task,
        ModelOverseer(task),
        FullStrategy(),
        seed,
        ml=ml,
        max_depth=max_depth,
        max_nodes=max_nodes,
        source="distill",
    )
    return list(walker.walk_many(items, concurrency or DEFAULT_CONCURRENCY))
