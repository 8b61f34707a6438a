"""The `experiments` and `curve` tables: an experiment's flags and resumable state, and one point
of its learning curve per cycle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ida_cli.store.db import now

CURVE_FIELDS = (
    "cycle",
    "strategy",
    "task",
    "size",
    "seed",
    "overseer_calls",
    "primitive_calls",
    "labelled",
    "accuracy",
    "adversary_auroc",
    "uncertainty_auroc",
    "agreement",
    "model_version",
    "adversary_version",
    "round_id",
    "wall_seconds",
    "cpu_seconds",  # stored as the column cpu_ms
    "steps",
)
COLUMNS = tuple("cpu_ms" if f == "cpu_seconds" else f for f in CURVE_FIELDS)


def _stored(field: str, value: Any) -> Any:
    return None if value is None else round(value * 1000) if field == "cpu_seconds" else value


def _read(field: str, value: Any) -> Any:
    return None if value is None else value / 1000 if field == "cpu_seconds" else value


@dataclass
class Experiment:
    name: str
    flags: dict[str, Any]
    state: dict[str, Any]


def load(con: Any, name: str) -> Experiment | None:
    row = con.execute("SELECT flags, state FROM experiments WHERE name = ?", [name]).fetchone()
    return None if row is None else Experiment(name, json.loads(row[0]), json.loads(row[1]))


def every(con: Any) -> list[Experiment]:
    rows = con.execute("SELECT name, flags, state FROM experiments ORDER BY created_at").fetchall()
    return [Experiment(r[0], json.loads(r[1]), json.loads(r[2])) for r in rows]


def create(con: Any, name: str, flags: dict[str, Any], state: dict[str, Any]) -> None:
    con.execute(
        "INSERT INTO experiments VALUES (?, ?, ?, 'running', ?, NULL)",
        [name, json.dumps(flags), json.dumps(state), now()],
    )


def save_state(con: Any, name: str, state: dict[str, Any], status: str = "running") -> None:
    con.execute(
        "UPDATE experiments SET state = ?, status = ?, finished_at = ? WHERE name = ?",
        [json.dumps(state), status, now() if status == "done" else None, name],
    )


def set_flags(con: Any, name: str, flags: dict[str, Any]) -> None:
    con.execute(
        "UPDATE experiments SET flags = ?, status = 'running' WHERE name = ?", [json.dumps(flags), name]
    )


def add_point(con: Any, experiment: str, point: dict[str, Any]) -> None:
    """One cycle's point of the curve (`point` has every CURVE_FIELDS key); a rerun replaces it."""
    names = ["experiment", *COLUMNS, "created_at"]
    values = [experiment, *(_stored(k, point[k]) for k in CURVE_FIELDS), now()]
    con.execute(
        f"INSERT OR REPLACE INTO curve ({', '.join(names)}) VALUES ({', '.join('?' * len(values))})", values
    )


def curve(con: Any, name: str | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT experiment, {', '.join(COLUMNS)} FROM curve"
    rows = con.execute(
        sql + (" WHERE experiment = ?" if name else "") + " ORDER BY experiment, cycle",
        [name] if name else [],
    ).fetchall()
    return [
        {"experiment": r[0], **{k: _read(k, v) for k, v in zip(CURVE_FIELDS, r[1:], strict=True)}}
        for r in rows
    ]


def round_agreement(con: Any, round_id: int) -> tuple[int, int]:
    """Of a round's recursed nodes where ML answered too: (ML's answer was the final one, all)."""
    agree, total = con.execute(
        """SELECT count(*) FILTER (WHERE n.ml_answer = n.answer), count(*) FROM nodes n
           JOIN trees t ON t.id = n.tree_id
           WHERE t.round_id = ? AND n.recursed AND n.ml_answer IS NOT NULL""",
        [round_id],
    ).fetchone()
    return int(agree), int(total)
