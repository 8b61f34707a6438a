"""The `audits` table and what an audit reads of rounds: one row per audited tree, with the
culprit found, the checks it took and the session that ran it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ida_cli.store import records
from ida_cli.store.db import next_id, now


@dataclass(frozen=True)
class AuditRow:
    tree: int
    order: str
    culprit: int | None
    checks: int
    checked: str  # JSON: the nodes checked, in order, with their verdicts


def latest_round(con: Any) -> int | None:
    row = con.execute("SELECT max(id) FROM rounds").fetchone()
    return None if row[0] is None else int(row[0])


def round_exists(con: Any, round_id: int) -> bool:
    return con.execute("SELECT 1 FROM rounds WHERE id = ?", [round_id]).fetchone() is not None


def round_tree_ids(con: Any, round_id: int) -> list[int]:
    rows = con.execute("SELECT id FROM trees WHERE round_id = ? ORDER BY id", [round_id]).fetchall()
    return [int(r[0]) for r in rows]


def save(
    con: Any, session: str, actor: str, oracle: str, started: datetime, pid: int, rows: list[AuditRow]
) -> list[int]:
    """One finished audit session and a row per audited tree; the rows' ids, in order."""
    records.create_session(con, session, "audit", actor, pid)
    con.execute("UPDATE sessions SET started_at = ? WHERE id = ?", [started, session])
    records.end_session(con, session, "done")
    first = next_id(con, "audits")
    for i, r in enumerate(rows):
        con.execute(
            """INSERT INTO audits (id, tree_id, created_at, oracle, ordering, culprit, checks, checked,
               session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [first + i, r.tree, now(), oracle, r.order, r.culprit, r.checks, r.checked, session],
        )
    return [first + i for i in range(len(rows))]
