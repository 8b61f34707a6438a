"""Reading stored questions with their contexts: for export, for the distillation walk's sample
and for evaluation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ida_cli.store.db import next_id, now
from ida_cli.store.records import loads
from ida_cli.vocabulary import JSON


@dataclass(frozen=True)
class QuestionRow:
    """A stored question with its context and ground truth (None where it has none)."""

    id: int
    context_id: int
    context: JSON
    question: JSON
    truth: JSON


def frame(con: Any, task: str | None, split: str | None) -> Any:
    """One row a question (id, task, size, split, context, question, truth as JSON text), polars."""
    sql = """SELECT q.id, q.task, q.size, q.split, c.data AS context, q.question, q.truth
             FROM questions q JOIN contexts c ON c.id = q.context_id WHERE 1=1"""
    params: list[Any] = []
    if task:
        sql, params = sql + " AND q.task = ?", [*params, task]
    if split:
        sql, params = sql + " AND q.split = ?", [*params, split]
    return con.execute(sql + " ORDER BY q.id", params).pl()


def labelled(con: Any, task: str, split: str) -> list[QuestionRow]:
    """The questions of `split` that have a ground truth, in id order."""
    rows = con.execute(
        """SELECT q.id, c.id, c.data, q.question, q.truth
           FROM questions q JOIN contexts c ON c.id = q.context_id
           WHERE q.task = ? AND q.split = ? AND q.truth IS NOT NULL ORDER BY q.id""",
        [task, split],
    ).fetchall()
    return [QuestionRow(int(r[0]), int(r[1]), loads(r[2]), json.loads(r[3]), json.loads(r[4])) for r in rows]


def sample_train(con: Any, task: str, seed: int, count: int) -> list[QuestionRow]:
    """A seeded sample of `count` training questions (never the eval split)."""
    rows = con.execute(
        """SELECT q.id, c.id, c.data, q.question, q.truth FROM questions q
           JOIN contexts c ON c.id = q.context_id
           WHERE q.task = ? AND q.split = 'train' ORDER BY hash(q.id + ?) LIMIT ?""",
        [task, seed, count],
    ).fetchall()
    return [QuestionRow(int(r[0]), int(r[1]), loads(r[2]), json.loads(r[3]), loads(r[4])) for r in rows]


def max_size(con: Any, task: str, split: str) -> int | None:
    row = con.execute(
        "SELECT max(size) FROM questions WHERE task = ? AND split = ?", [task, split]
    ).fetchone()
    return None if row[0] is None else int(row[0])


def overseer_totals(con: Any, task: str) -> tuple[int, int]:
    """(overseer calls, primitive calls) summed over every stored tree of `task`."""
    sql = "SELECT coalesce(sum(overseer_calls), 0), coalesce(sum(primitive_calls), 0) FROM trees"
    row = con.execute(sql + " WHERE task = ?", [task]).fetchone()
    return int(row[0]), int(row[1])


def train_count(con: Any, task: str, size: int) -> int:
    """Training questions of `task` at `size`, labelled or not."""
    row = con.execute(
        "SELECT count(*) FROM questions WHERE task = ? AND size = ? AND split = 'train'", [task, size]
    ).fetchone()
    return int(row[0])


def tree_totals(con: Any, task: str) -> tuple[int, int, int]:
    """(trees, overseer calls, primitive calls) over every stored tree of `task`: what an
    experiment has spent, a killed round's stored trees included."""
    row = con.execute(
        """SELECT count(*), coalesce(sum(overseer_calls), 0), coalesce(sum(primitive_calls), 0)
           FROM trees WHERE task = ?""",
        [task],
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def add_metrics(
    con: Any, task: str, split: str, values: dict[str, Any], model_version: int | None, extra: Any
) -> None:
    """One `metrics` row per named value of an evaluation."""
    first = next_id(con, "metrics")
    size = max_size(con, task, split)
    for i, (name, value) in enumerate(values.items()):
        con.execute(
            """INSERT INTO metrics (id, created_at, task, size, split, name, value, model_version, extra)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [first + i, now(), task, size, split, name, value, model_version, json.dumps(extra)],
        )
