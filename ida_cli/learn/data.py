"""What ML and the adversary train on: the stored rows of one task, and the checks that name the
command to run when there are none."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ida_cli.errors import UsageError
from ida_cli.store import records, training_rows
from ida_cli.store.training_rows import RowCache, Rows
from ida_cli.store.training_rows import training_rows as gather
from ida_cli.tasks import get_task

if TYPE_CHECKING:
    from ida_cli.model.batch import Example

HELD_OUT_EVERY = 10  # contexts with id % 10 == 0 decide early stopping


__all__ = ["HELD_OUT_EVERY", "ReplayCache", "RowCache", "Rows", "check_data", "gather", "resolve_task"]


@dataclass
class ReplayCache:
    """What one `ida experiment` process keeps from cycle to cycle of the online schedule, so that a
    cycle parses and tokenizes only the rows that are new (it still reads every row's text): the
    rows made so far (`RowCache`) and their examples under one vocabulary. Only memory: a resumed
    run starts with an empty one and makes the same rows and examples from the database."""

    rows: RowCache = field(default_factory=RowCache)
    examples: dict[Hashable, Example] = field(default_factory=dict)
    vocab: list[str] = field(default_factory=list)
    # per mode, the longest target of the memo's examples (`runner.max_out`): a cycle takes the
    # longest of the examples it adds, not of all
    longest: dict[str, int] = field(default_factory=dict)

    def memo(self, vocab: list[str]) -> dict[Hashable, Example]:
        """The example memo for `vocab` (emptied if it was made under another)."""
        if vocab != self.vocab:
            self.examples.clear()
            self.longest.clear()
            self.vocab = list(vocab)
        return self.examples


def resolve_task(con: Any, task: str | None) -> str:
    if task:
        get_task(task)
        return task
    tasks = training_rows.question_tasks(con)
    default = records.get_settings(con).get("task")
    if default in tasks:
        return str(default)
    if len(tasks) == 1:
        return str(tasks[0])
    if not tasks:
        raise UsageError(
            "no questions yet: run `ida questions generate --task T --size N --count C --seed S`"
        )
    raise UsageError(f"several tasks have questions ({', '.join(tasks)}): choose one with --task")


def check_data(con: Any, task: str, rows: Rows, supervised: bool) -> None:
    if rows.items:
        return
    n_eval = training_rows.question_count(con, task, "eval")
    n_train = training_rows.question_count(con, task, "train")
    if n_eval and not n_train:
        raise UsageError(
            f"task {task} has only eval questions, which are never trained on: add training questions "
            f"with `ida questions generate --task {task} --split train ...`"
        )
    if supervised:
        raise UsageError(
            f"no training questions with ground truth for task {task}: run "
            f"`ida questions generate --task {task} --size N --count C --seed S`"
        )
    raise UsageError(
        f"no amplified trees for task {task} to train on: run `ida round --task {task}` first "
        "(or train the baseline with --supervised)"
    )
