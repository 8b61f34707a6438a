"""The person's actions in `ida label`: each step, undo, skip and flag is one row of `actions`,
written in its own transaction the moment it is given (so a killed process loses at most the step
being typed), and linked to its tree once the tree is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ida_cli.store import records
from ida_cli.store.db import insert_row, next_id
from ida_cli.vocabulary import JSON

Con = Any
STEP_KINDS = ("fan_out", "fan_in")
# the person's records besides steps: undo (supersedes a step or a flag or a skip), skip, flag, and
# void (a step set aside because the tree no longer reaches it on replay)
_NOT_SUPERSEDED = (
    "a.id NOT IN (SELECT u.supersedes FROM actions u WHERE u.supersedes IS NOT NULL AND u.tree_id IS NULL)"
)


@dataclass
class StoredAction:
    id: int
    kind: str
    step: int
    result: JSON
    note: dict[str, Any]
    seconds: float


def actor_of(annotator: str) -> str:
    return f"human:{annotator}"


def add_action(
    con: Con,
    *,
    session_id: str,
    actor: str,
    kind: str,
    step: int,
    primitive: bool,
    result: JSON,
    at: datetime,
    seconds: float,
    note: dict[str, Any],
    supersedes: int | None = None,
) -> int:
    aid = next_id(con, "actions")
    insert_row(
        con,
        "actions",
        {
            "id": aid,
            "session_id": session_id,
            "actor": actor,
            "kind": kind,
            "step": step,
            "primitive": primitive,
            "result": records.dumps(result),
            "created_at": at,
            "seconds": float(seconds),
            "supersedes": supersedes,
            "note": records.dumps(note),
            "item_id": note.get("item"),
        },
    )
    return aid


def action_by_token(con: Con, item_id: int, token: str) -> int | None:
    """The action of the item whose note carries `token` (a step whose commit may or may not have
    happened before the connection was lost), if it was stored."""
    rows = con.execute(
        "SELECT id, note FROM actions WHERE item_id = ? AND tree_id IS NULL ORDER BY id DESC", [item_id]
    ).fetchall()
    for aid, note in rows:
        if note and json.loads(note).get("token") == token:
            return int(aid)
    return None


def live_actions(con: Con, item_id: int, kinds: tuple[str, ...] = STEP_KINDS) -> list[StoredAction]:
    """The item's actions of `kinds` that no tree has taken yet and nothing supersedes, in order."""
    marks = ", ".join("?" for _ in kinds)
    rows = con.execute(
        f"""SELECT a.id, a.kind, a.step, a.result, a.note, a.seconds FROM actions a
            WHERE a.tree_id IS NULL AND a.kind IN ({marks}) AND a.item_id = ? AND {_NOT_SUPERSEDED}
            ORDER BY a.id""",
        [*kinds, item_id],
    ).fetchall()
    return [StoredAction(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), float(r[5])) for r in rows]


def item_seconds(con: Con, item_id: int) -> float:
    """Everything the person spent on the item: steps, undone ones, undos, flags."""
    row = con.execute("SELECT coalesce(sum(a.seconds), 0) FROM actions a WHERE a.item_id = ?", [item_id])
    return float(row.fetchone()[0])


def link_actions(con: Con, links: list[tuple[int, int, int]]) -> None:
    """(action id, tree id, node id): the tree that a live step went into."""
    if links:  # one statement (on PostgreSQL each UPDATE is a temporary table and a round trip)
        aids = [aid for aid, _, _ in links]
        con.execute(
            """UPDATE actions SET tree_id = v.tree, node_id = v.node
               FROM (SELECT unnest(?::BIGINT[]) AS aid, unnest(?::BIGINT[]) AS tree,
                            unnest(?::BIGINT[]) AS node) v
               WHERE actions.id = v.aid AND actions.tree_id IS NULL
               AND actions.id >= ? AND actions.id <= ?""",
            [aids, [t for _, t, _ in links], [n for _, _, n in links], min(aids), max(aids)],
        )
