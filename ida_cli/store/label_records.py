"""What `ida label` reads and writes: label rounds, their items (label_items) and the claims that
serve each question to at most K annotators (label_claims); the person's actions are in
store/label_actions.py, who is present in store/presence.py. Every function
runs inside one short transaction that its caller opens; nothing here waits for a person.

Claims are race-free because every write transaction holds the store's writer lock (the flock of a
DuckDB file, an advisory lock on PostgreSQL): the check for a free slot and the insert of the claim
happen together, and the (question, slot) primary key refuses a double claim even so."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ida_cli.store import records
from ida_cli.store.claims import dead_rounds
from ida_cli.store.db import next_id, now
from ida_cli.store.presence import stale_annotators

Con = Any


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


def set_round_params(con: Con, round_id: int, params: dict[str, Any]) -> None:
    con.execute("UPDATE rounds SET params = ? WHERE id = ?", [records.dumps(params), round_id])


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


_NAMES = "(SELECT unnest(?::VARCHAR[]))"  # a list parameter of annotator names


def available(
    con: Con, task: str, annotator: str, overlap: int = 1, stale: Sequence[str] = ()
) -> list[tuple[int, bool]]:
    """Training questions of `task` that `annotator` may take, by id, each with whether taking it
    means taking over a stale claim: no tree from outside `ida label`, fewer than `overlap` live
    claims (a claim is live unless it is an open item of a `stale` annotator), not being walked by
    a live `ida round` (store/claims.py), and not taken up (open, done or skipped) by `annotator`
    before."""
    dead = [r for r, _, _ in dead_rounds(con)]
    rows = con.execute(
        f"""WITH held AS (
                SELECT c.question_id, count(*) FILTER (WHERE NOT (i.status = 'open'
                           AND i.annotator IN {_NAMES})) AS live,
                       count(*) FILTER (WHERE i.status = 'open' AND i.annotator IN {_NAMES}) AS stale
                FROM label_claims c JOIN label_items i ON i.id = c.item_id GROUP BY c.question_id)
            SELECT q.id, coalesce(h.stale, 0) > 0 FROM questions q LEFT JOIN held h ON h.question_id = q.id
            WHERE q.task = ? AND q.split = 'train' AND coalesce(h.live, 0) < ?
              AND NOT EXISTS (SELECT 1 FROM trees t WHERE t.question_id = q.id
                              AND NOT EXISTS (SELECT 1 FROM label_items l WHERE l.tree_id = t.id))
              AND NOT EXISTS (SELECT 1 FROM round_claims r WHERE r.question_id = q.id
                              AND r.round_id NOT IN (SELECT unnest(?::BIGINT[])))
              AND NOT EXISTS (SELECT 1 FROM label_items m WHERE m.question_id = q.id AND m.annotator = ?
                              AND m.status IN ('open', 'done', 'skipped'))
            ORDER BY q.id""",
        [list(stale), list(stale), task, overlap, dead, annotator],
    ).fetchall()
    return [(int(r[0]), bool(r[1])) for r in rows]


def pick_item(
    con: Con,
    rnd: LabelRound,
    annotator: str,
    model_version: int | None,
    adversary_version: int | None,
    overlap: int = 1,
) -> tuple[Item | None, list[str], int]:
    """Take the round's next question and claim it: a uniform draw with the generator
    default_rng([seed, round, position]) from the questions nobody has a claim on, or when there are
    none left, from those whose claims went stale (which expire). Returns the item (None when
    nothing is left), the annotators whose stale claims it took over, and how many questions the
    annotator could take (this one included)."""
    stale = stale_annotators(con, annotator)
    pool = available(con, rnd.task, annotator, overlap, stale)
    if not pool:
        return None, [], 0
    fresh = [q for q, taken_over in pool if not taken_over]
    ids = fresh or [q for q, _ in pool]
    position = int(
        con.execute(
            "SELECT coalesce(max(position) + 1, 0) FROM label_items WHERE round_id = ?", [rnd.id]
        ).fetchone()[0]
    )
    rng = np.random.default_rng([rnd.seed % 2**64, rnd.id, position])
    qid = int(ids[int(rng.integers(len(ids)))])
    expired = con.execute(
        f"""SELECT i.id, i.annotator FROM label_claims c JOIN label_items i ON i.id = c.item_id
            WHERE c.question_id = ? AND i.status = 'open' AND i.annotator IN {_NAMES}""",
        [qid, list(stale)],
    ).fetchall()
    for item_id, _ in expired:
        set_item_status(con, int(item_id), "expired")
    iid = next_id(con, "label_items")
    con.execute(
        f"""INSERT INTO label_items ({_ITEM_COLS}, annotator, started_at)
            VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)""",
        [iid, rnd.id, position, qid, model_version, adversary_version, annotator, now()],
    )
    if not claim(con, qid, iid, annotator, overlap):
        raise RuntimeError(f"question {qid} was free but has no free slot")  # the lock makes this impossible
    item = Item(iid, rnd.id, position, qid, "open", model_version, adversary_version)
    return item, [a for _, a in expired], len(pool)


def claim(con: Con, question_id: int, item_id: int, annotator: str, overlap: int) -> bool:
    """Claim the lowest free slot of `question_id` for the item; False when its `overlap` slots
    are all held."""
    used = {
        int(r[0])
        for r in con.execute("SELECT slot FROM label_claims WHERE question_id = ?", [question_id]).fetchall()
    }
    if len(used) >= overlap:
        return False
    slot = min(s for s in range(len(used) + 1) if s not in used)
    con.execute(
        "INSERT INTO label_claims (question_id, slot, item_id, annotator, claimed_at) VALUES (?, ?, ?, ?, ?)",
        [question_id, slot, item_id, annotator, now()],
    )
    return True


def item_status(con: Con, item_id: int) -> str | None:
    row = con.execute("SELECT status FROM label_items WHERE id = ?", [item_id]).fetchone()
    return None if row is None else str(row[0])


def set_item_status(con: Con, item_id: int, status: str) -> None:
    """Skipped, returned and expired items give their claim back (done ones keep it)."""
    con.execute(
        "UPDATE label_items SET status = ?, finished_at = ? WHERE id = ?",
        [status, None if status == "open" else now(), item_id],
    )
    if status not in ("open", "done"):
        con.execute("DELETE FROM label_claims WHERE item_id = ?", [item_id])


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
               AND a.item_id IN (SELECT i.id FROM label_items i WHERE i.round_id = ?) ORDER BY a.id""",
            [round_id],
        ).fetchall()
    ]
    return {"done": int(done), "skipped": int(skipped), "calls_per_tree": calls, "seconds": seconds}


def item_tree(con: Con, item_id: int) -> int:
    """The id of the tree stored for a finished label item."""
    return int(con.execute("SELECT tree_id FROM label_items WHERE id = ?", [item_id]).fetchone()[0])
