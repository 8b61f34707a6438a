"""What `ida label` reads and writes: label rounds, their items (label_items) and the person's
actions. Every function runs inside one short transaction that its caller opens; nothing here waits
for a person."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ida_cli.store import records
from ida_cli.store.db import next_id, now
from ida_cli.tasks.base import JSON

Con = Any
STEP_KINDS = ("fan_out", "fan_in")
# the person's records besides steps: undo (supersedes a step or a flag or a skip), skip, flag, and
# void (a step set aside because the tree no longer reaches it on replay)
_NOT_SUPERSEDED = "NOT EXISTS (SELECT 1 FROM actions u WHERE u.supersedes = a.id)"
_ITEM = "json_extract_string(a.note, '$.item')::BIGINT"


@dataclass
class LabelRound:
    id: int
    task: str
    strategy: str
    seed: int
    params: dict[str, Any]
    status: str

    @property
    def annotator(self) -> str:
        return str(self.params.get("annotator", ""))


@dataclass
class Item:
    id: int
    round_id: int
    position: int
    question_id: int
    status: str
    model_version: int | None
    adversary_version: int | None


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


# -- sessions -----------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped), or the pid reused by another program, is not labelling
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"ida" in f.read()
    except OSError:
        return True


def claim_sessions(con: Con, annotator: str) -> int | None:
    """Close this annotator's label sessions whose process is gone (killed); return the pid of one
    still running, if any."""
    rows = con.execute(
        "SELECT id, pid FROM sessions WHERE command = 'label' AND actor = ? AND status = 'open'",
        [actor_of(annotator)],
    ).fetchall()
    for sid, pid in rows:
        if _alive(int(pid)):
            return int(pid)
        records.end_session(con, sid, "killed")
    return None


# -- rounds -------------------------------------------------------------------------------------
def open_rounds(con: Con, annotator: str) -> list[LabelRound]:
    """The annotator's unfinished label rounds, newest first."""
    rows = con.execute(
        """SELECT id, task, strategy, seed, params, status FROM rounds
           WHERE oracle = 'human' AND status IN ('running', 'paused') ORDER BY id DESC"""
    ).fetchall()
    out = [LabelRound(r[0], r[1], r[2], int(r[3] or 0), json.loads(r[4]), r[5]) for r in rows]
    return [r for r in out if r.annotator == annotator]


def create_round(
    con: Con, session_id: str, task: str, strategy: str, seed: int, params: dict[str, Any]
) -> LabelRound:
    rid = records.create_round(
        con,
        session_id=session_id,
        task=task,
        oracle="human",
        strategy=strategy,
        pick="random",
        params=params,
        seed=seed,
        questions=0,
    )
    return LabelRound(rid, task, strategy, seed, params, "running")


def set_round_status(con: Con, round_id: int, status: str) -> None:
    if status in ("running", "paused"):
        con.execute("UPDATE rounds SET status = ?, finished_at = NULL WHERE id = ?", [status, round_id])
    else:
        records.finish_round(con, round_id, status)


# -- items --------------------------------------------------------------------------------------
_ITEM_COLS = "id, round_id, position, question_id, status, model_version, adversary_version"


def _item(row: Any) -> Item:
    return Item(*row)


def open_item(con: Con, round_id: int) -> Item | None:
    row = con.execute(
        f"""SELECT {_ITEM_COLS} FROM label_items WHERE round_id = ? AND status = 'open'
            ORDER BY position DESC LIMIT 1""",
        [round_id],
    ).fetchone()
    return None if row is None else _item(row)


def available(con: Con, task: str, annotator: str) -> list[int]:
    """Training questions of `task` without a tree, not being labelled by anyone, and not skipped
    by this annotator."""
    rows = con.execute(
        """SELECT q.id FROM questions q WHERE q.task = ? AND q.split = 'train'
           AND NOT EXISTS (SELECT 1 FROM trees t WHERE t.question_id = q.id)
           AND NOT EXISTS (SELECT 1 FROM label_items i WHERE i.question_id = q.id
                           AND (i.status = 'open' OR (i.status = 'skipped' AND i.annotator = ?)))
           ORDER BY q.id""",
        [task, annotator],
    ).fetchall()
    return [r[0] for r in rows]


def pick_item(
    con: Con, rnd: LabelRound, annotator: str, model_version: int | None, adversary_version: int | None
) -> Item | None:
    """Take the round's next question: a uniform draw from the available pool with the generator
    default_rng([seed, round, position]), so the same state always picks the same question."""
    pool = available(con, rnd.task, annotator)
    if not pool:
        return None
    position = int(
        con.execute(
            "SELECT coalesce(max(position) + 1, 0) FROM label_items WHERE round_id = ?", [rnd.id]
        ).fetchone()[0]
    )
    rng = np.random.default_rng([rnd.seed % 2**64, rnd.id, position])
    qid = int(pool[int(rng.integers(len(pool)))])
    iid = next_id(con, "label_items")
    con.execute(
        f"""INSERT INTO label_items ({_ITEM_COLS}, annotator, started_at)
            VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)""",
        [iid, rnd.id, position, qid, model_version, adversary_version, annotator, now()],
    )
    return Item(iid, rnd.id, position, qid, "open", model_version, adversary_version)


def set_item_status(con: Con, item_id: int, status: str) -> None:
    con.execute(
        "UPDATE label_items SET status = ?, finished_at = ? WHERE id = ?",
        [status, None if status == "open" else now(), item_id],
    )


def finish_item(con: Con, item: Item, tree_id: int, seconds: float) -> None:
    """The item's tree is stored: mark it done and count it in its round."""
    con.execute(
        "UPDATE label_items SET status = 'done', tree_id = ?, finished_at = ?, seconds = ? WHERE id = ?",
        [tree_id, now(), seconds, item.id],
    )
    con.execute(
        """UPDATE rounds SET questions = (SELECT count(*) FROM label_items
           WHERE round_id = ? AND status = 'done') WHERE id = ?""",
        [item.round_id, item.round_id],
    )


def previous_item(con: Con, item: Item) -> Item | None:
    """The item taken up before `item` in its round (items given back to the pool not counted)."""
    row = con.execute(
        f"""SELECT {_ITEM_COLS} FROM label_items WHERE round_id = ? AND position < ?
            AND status <> 'returned' ORDER BY position DESC LIMIT 1""",
        [item.round_id, item.position],
    ).fetchone()
    return None if row is None else _item(row)


def round_counts(con: Con, round_id: int) -> dict[str, Any]:
    """Done and skipped items, mean overseer calls per finished tree, and every step's seconds."""
    done, skipped = con.execute(
        """SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'skipped')
           FROM label_items WHERE round_id = ?""",
        [round_id],
    ).fetchone()
    calls = con.execute(
        """SELECT avg(t.overseer_calls) FROM label_items i JOIN trees t ON t.id = i.tree_id
           WHERE i.round_id = ?""",
        [round_id],
    ).fetchone()[0]
    seconds = [
        float(s)
        for (s,) in con.execute(
            """SELECT a.seconds FROM actions a WHERE a.kind IN ('fan_out', 'fan_in')
               AND a.actor LIKE 'human:%' AND json_extract_string(a.note, '$.round')::BIGINT = ?
               ORDER BY a.id""",
            [round_id],
        ).fetchall()
    ]
    return {"done": int(done), "skipped": int(skipped), "calls_per_tree": calls, "seconds": seconds}


# -- actions ------------------------------------------------------------------------------------
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
    con.execute(
        """INSERT INTO actions (id, tree_id, node_id, session_id, actor, kind, step, primitive, result,
           created_at, seconds, supersedes, note) VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            aid,
            session_id,
            actor,
            kind,
            step,
            primitive,
            records.dumps(result),
            at,
            seconds,
            supersedes,
            records.dumps(note),
        ],
    )
    return aid


def live_actions(con: Con, item_id: int, kinds: tuple[str, ...] = STEP_KINDS) -> list[StoredAction]:
    """The item's actions of `kinds` that no tree has taken yet and nothing supersedes, in order."""
    marks = ", ".join("?" for _ in kinds)
    rows = con.execute(
        f"""SELECT a.id, a.kind, a.step, a.result, a.note, a.seconds FROM actions a
            WHERE a.tree_id IS NULL AND a.kind IN ({marks}) AND {_ITEM} = ? AND {_NOT_SUPERSEDED}
            ORDER BY a.id""",
        [*kinds, item_id],
    ).fetchall()
    return [StoredAction(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), float(r[5])) for r in rows]


def item_seconds(con: Con, item_id: int) -> float:
    """Everything the person spent on the item: steps, undone ones, undos, flags."""
    row = con.execute(f"SELECT coalesce(sum(a.seconds), 0) FROM actions a WHERE {_ITEM} = ?", [item_id])
    return float(row.fetchone()[0])


def link_actions(con: Con, links: list[tuple[int, int, int]]) -> None:
    """(action id, tree id, node id): the tree that a live step went into."""
    if links:
        con.executemany(
            "UPDATE actions SET tree_id = ?, node_id = ? WHERE id = ? AND tree_id IS NULL",
            [[tree, node, aid] for aid, tree, node in links],
        )
