"""Reading and writing records. Bulk writes go through polars/Arrow; JSON values are stored as
canonical JSON text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ida_cli.store.db import insert_frame, next_id, now
from ida_cli.vocabulary import JSON, canonical

Con = Any


def dumps(value: JSON) -> str:
    return canonical(value)


def loads(text: str | None) -> JSON:
    return None if text is None else json.loads(text)


# -- settings ---------------------------------------------------------------------------------
def get_settings(con: Con) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM settings").fetchall())


def put_settings(con: Con, values: dict[str, str]) -> None:
    for key, value in values.items():
        con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])


# -- contexts and questions -------------------------------------------------------------------
def context_digests(con: Con, task: str, split: str | None = None) -> dict[str, tuple[int, str]]:
    """digest -> (context id, split) for a task's stored contexts."""
    sql = "SELECT digest, id, split FROM contexts WHERE task = ?"
    rows = con.execute(sql, [task]).fetchall()
    return {d: (i, s) for d, i, s in rows if split is None or s == split}


def insert_questions(
    con: Con,
    contexts: Sequence[dict[str, Any]],
    questions: Sequence[dict[str, Any]],
) -> tuple[int, int]:
    """Insert new contexts and questions in bulk. Context dicts carry a temporary `key`; questions
    refer to it by `context_key`, or to a stored context by `context_id`. Returns the first ids."""
    import polars as pl

    first_ctx, first_q = next_id(con, "contexts"), next_id(con, "questions")
    created = now()
    ids = {c["key"]: first_ctx + i for i, c in enumerate(contexts)}
    if contexts:
        insert_frame(
            con,
            "contexts",
            pl.DataFrame(
                {
                    "id": [ids[c["key"]] for c in contexts],
                    "task": [c["task"] for c in contexts],
                    "size": [c["size"] for c in contexts],
                    "split": [c["split"] for c in contexts],
                    "data": [None if c["data"] is None else dumps(c["data"]) for c in contexts],
                    "digest": [c["digest"] for c in contexts],
                    "created_at": [created] * len(contexts),
                },
                schema_overrides={"id": pl.Int64, "size": pl.Int32, "data": pl.Utf8},
            ),
        )
    if questions:
        insert_frame(
            con,
            "questions",
            pl.DataFrame(
                {
                    "id": list(range(first_q, first_q + len(questions))),
                    "task": [q["task"] for q in questions],
                    "size": [q["size"] for q in questions],
                    "split": [q["split"] for q in questions],
                    "context_id": [
                        q["context_id"] if "context_id" in q else ids[q["context_key"]] for q in questions
                    ],
                    "question": [dumps(q["question"]) for q in questions],
                    # a built-in truth may be JSON null (shortpath's "no next vertex"): only has_truth=False
                    # (a user question without a reference answer) is stored as SQL NULL
                    "truth": [dumps(q["truth"]) if q.get("has_truth", True) else None for q in questions],
                    "source": [q["source"] for q in questions],
                    "created_at": [created] * len(questions),
                },
                schema_overrides={"id": pl.Int64, "size": pl.Int32, "context_id": pl.Int64, "truth": pl.Utf8},
            ),
        )
    return first_ctx, first_q


def question_tasks(con: Con, split: str = "train") -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT task FROM questions WHERE split = ? ORDER BY task", [split]
        ).fetchall()
    ]


def unlabelled_pool(con: Con, task: str) -> list[int]:
    """Training questions of `task` that no tree answers yet, that no `ida label` session has
    claimed (a person may be answering it right now) and that no round is walking, by id. (The
    claims of rounds whose process died are dropped first: `claims.expire_round_claims`.)"""
    rows = con.execute(
        """SELECT q.id FROM questions q WHERE q.task = ? AND q.split = 'train'
           AND NOT EXISTS (SELECT 1 FROM trees t WHERE t.question_id = q.id)
           AND NOT EXISTS (SELECT 1 FROM label_claims c JOIN label_items i ON i.id = c.item_id
                           WHERE c.question_id = q.id AND i.status = 'open')
           AND NOT EXISTS (SELECT 1 FROM round_claims r WHERE r.question_id = q.id) ORDER BY q.id""",
        [task],
    ).fetchall()
    return [r[0] for r in rows]


def load_questions(con: Con, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Question rows with their contexts parsed, in the order of `ids`."""
    if not ids:
        return []
    rows = con.execute(
        """SELECT q.id, q.task, q.size, q.question, q.truth, q.context_id, c.data
           FROM questions q JOIN contexts c ON c.id = q.context_id
           WHERE q.id IN (SELECT unnest(?::BIGINT[]))""",
        [list(ids)],
    ).fetchall()
    by_id = {
        r[0]: {
            "id": r[0],
            "task": r[1],
            "size": r[2],
            "question": loads(r[3]),
            "truth": loads(r[4]),
            "has_truth": r[4] is not None,
            "context_id": r[5],
            "context": loads(r[6]),
        }
        for r in rows
    }
    return [by_id[i] for i in ids]


# -- rounds -----------------------------------------------------------------------------------
def create_round(
    con: Con,
    *,
    session_id: str,
    task: str,
    oracle: str,
    strategy: str,
    pick: str,
    params: dict[str, Any],
    seed: int | None,
    questions: int,
) -> int:
    rid = next_id(con, "rounds")
    con.execute(
        """INSERT INTO rounds (id, session_id, task, oracle, strategy, pick, params, seed, questions,
           status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)""",
        [rid, session_id, task, oracle, strategy, pick, dumps(params), seed, questions, now()],
    )
    return rid


def finish_round(con: Con, round_id: int, status: str) -> None:
    con.execute("UPDATE rounds SET status = ?, finished_at = ? WHERE id = ?", [status, now(), round_id])


def create_session(con: Con, session_id: str, command: str, actor: str | None, pid: int) -> None:
    """A session of this process on this host, seen now (label sessions keep `heartbeat_at` fresh)."""
    import socket

    started = now()
    con.execute(
        """INSERT INTO sessions (id, command, actor, pid, started_at, status, host, heartbeat_at)
           VALUES (?, ?, ?, ?, ?, 'open', ?, ?)""",
        [session_id, command, actor, pid, started, socket.gethostname(), started],
    )


def end_session(con: Con, session_id: str, status: str) -> None:
    con.execute("UPDATE sessions SET ended_at = ?, status = ? WHERE id = ?", [now(), status, session_id])
