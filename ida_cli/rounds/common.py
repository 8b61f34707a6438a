"""What the serial round, the parallel dispatcher and its workers share: the walker a round uses,
its transactions, and the tally of what it did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from ida_cli.errors import UsageError
from ida_cli.rounds.options import RoundOptions, RoundResult, make_strategy
from ida_cli.store import Store, claims, records
from ida_cli.tasks import get_task
from ida_cli.vocabulary import Tree
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.ports import ML, Scorer
from ida_cli.walk.walker import Walker

T = TypeVar("T")

FLUSH_SECONDS = 1.0
FLUSH_TREES = 500


def commit(store: Store, write: Callable[[Any], T]) -> tuple[T, bool]:
    """`write(con)` in one transaction: its value, and whether a Ctrl-C came meanwhile. The store
    holds a Ctrl-C back until after COMMIT and raises it there, so the caller must first record
    what was stored, then stop (else stopping would store the same trees again)."""
    done: list[T] = []
    try:
        with store.write() as con:
            done.append(write(con))
    except KeyboardInterrupt:
        if not done:
            raise
        return done[0], True
    return done[0], False


def make_walker(
    opts: RoundOptions, task_name: str, trees: int, ml: ML | None, scorer: Scorer | None
) -> Walker:
    """The walker of a round of `trees` trees; parallel workers build theirs with this too."""
    task = get_task(task_name)
    prime_by, threshold = opts.priming()
    return Walker(
        task,
        ScriptedOverseer(task),
        make_strategy(opts.strategy, opts.alpha, opts.temperature, opts.p),
        opts.seed,
        ml=ml,
        scorer=scorer,
        strategy_at=opts.strategy_at(trees),
        confidence=threshold,
        prime_by=prime_by,
        temperature=opts.temperature,
        memo=opts.memo,
        memo_stand_ins=opts.memo_stand_ins,
        memo_primed=opts.memo_primed,
    )


def ml_batches(batches: Counter[str]) -> int:
    """Batched calls made to ML (the adversary's scoring calls are counted apart)."""
    return sum(n for kind, n in batches.items() if not kind.startswith("score"))


def finish(store: Store, round_id: int, session_id: str, status: str) -> None:
    with store.write() as con:
        claims.release_round(con, round_id)
        records.finish_round(con, round_id, status)
        records.end_session(con, session_id, status)


def tally(result: RoundResult, tree: Tree, row: dict[str, Any]) -> None:
    result.trees += 1
    result.overseer_calls += tree.overseer_calls
    result.primitive_calls += tree.primitive_calls
    result.memo_hits += tree.memo_hits
    result.model_calls += tree.model_calls
    result.model_steps += sum(a.actor == "model" for a in tree.actions)
    for node in tree.root.walk():
        result.nodes += 1
        if node.children:
            steps = {c.step for c in node.children}
            result.steps += len(steps)
            result.recursions += sum(c.recursed for c in node.children)
    if row["has_truth"]:
        result.with_truth += 1
        result.correct += tree.root.answer == row["truth"]


def default_task(con: Any) -> str:
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
