"""The `versions` table (every trained model and adversary: its status, checkpoint and metrics) and
the `checkpoints` table (a server store's copies of checkpoint files, by SHA-256). Every statement
on either table is here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ida_cli.store.db import next_id, now


@dataclass(frozen=True)
class Stored:
    """A ready version as `ida prune` sees it; `rank` 1 is the newest of its kind and task."""

    id: int
    kind: str
    task: str
    version: int
    checkpoint: str | None
    sha256: str | None
    rank: int


@dataclass(frozen=True)
class Version:
    """A ready model or adversary version: its checkpoint (a name in the project's checkpoint
    folder, or an older path) and what it recorded."""

    kind: str
    version: int
    task: str
    checkpoint: str
    sha256: str | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    data_counts: dict[str, Any]


def latest(con: Any, kind: str, task: str, version: int | None = None) -> Version | None:
    """The newest ready version of `kind` for `task` (or the given version, of any task)."""
    sql = """SELECT version, task, checkpoint, sha256, config, metrics, data_counts FROM versions
             WHERE kind = ? AND status = 'ready'"""
    params: list[Any] = [kind]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    else:
        sql += " AND task = ?"
        params.append(task)
    row = con.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    return Version(
        kind,
        int(row[0]),
        row[1],
        row[2],
        row[3],
        json.loads(row[4] or "{}"),
        json.loads(row[5] or "{}"),
        json.loads(row[6] or "{}"),
    )


def is_pruned(con: Any, kind: str, version: int) -> bool:
    row = con.execute(
        "SELECT 1 FROM versions WHERE kind = ? AND version = ? AND status = 'pruned'", [kind, version]
    ).fetchone()
    return row is not None


def judged_model(con: Any, adversary_version: int) -> int:
    """The model version an adversary version was trained to judge."""
    row = con.execute(
        "SELECT model_version FROM versions WHERE kind = 'adversary' AND version = ?", [adversary_version]
    ).fetchone()
    return int(row[0])


def allocate(con: Any, kind: str) -> tuple[int, int]:
    """(row id, version number) for a new version of `kind`; numbers count up across tasks."""
    number = con.execute("SELECT coalesce(max(version), 0) FROM versions WHERE kind = ?", [kind]).fetchone()[
        0
    ]
    return next_id(con, "versions"), 1 + int(number)


def start_model(con: Any, vid: int, version: int, task: str, config: Any, counts: Any) -> None:
    """A model version being trained (status 'training' until it is ready, failed or interrupted)."""
    con.execute(
        """INSERT INTO versions (id, kind, version, task, created_at, config, data_counts, status)
           VALUES (?, 'model', ?, ?, ?, ?, ?, 'training')""",
        [vid, version, task, now(), json.dumps(config), json.dumps(counts)],
    )


def set_status(con: Any, vid: int, status: str) -> None:
    con.execute("UPDATE versions SET status = ? WHERE id = ?", [status, vid])


def finish_model(
    con: Any, vid: int, config: Any, counts: Any, metrics: Any, checkpoint: str, sha256: str
) -> None:
    con.execute(
        """UPDATE versions SET status = 'ready', config = ?, data_counts = ?, metrics = ?, checkpoint = ?,
           sha256 = ? WHERE id = ?""",
        [json.dumps(config), json.dumps(counts), json.dumps(metrics), checkpoint, sha256, vid],
    )


def resumable_model(con: Any, task: str) -> tuple[int, int] | None:
    """(version, row id) of the newest unfinished model run for `task`, if any."""
    row = con.execute(
        """SELECT version, id FROM versions
           WHERE kind = 'model' AND task = ? AND status IN ('training', 'interrupted')
           ORDER BY version DESC LIMIT 1""",
        [task],
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def add_adversary(
    con: Any,
    vid: int,
    version: int,
    task: str,
    config: Any,
    counts: Any,
    metrics: Any,
    checkpoint: str,
    sha256: str,
    model_version: int,
) -> None:
    con.execute(
        """INSERT INTO versions (id, kind, version, task, created_at, config, data_counts, metrics,
           checkpoint, sha256, model_version, status)
           VALUES (?, 'adversary', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready')""",
        [
            vid,
            version,
            task,
            now(),
            json.dumps(config),
            json.dumps(counts),
            json.dumps(metrics),
            checkpoint,
            sha256,
            model_version,
        ],
    )


def ready(con: Any) -> list[Stored]:
    """Every ready version, newest first within each kind and task."""
    rows = con.execute(
        """SELECT id, kind, task, version, checkpoint, sha256,
                  row_number() OVER (PARTITION BY kind, task ORDER BY version DESC) AS newest
           FROM versions WHERE status = 'ready' ORDER BY kind, task, version DESC"""
    ).fetchall()
    return [Stored(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], int(r[6])) for r in rows]


# -- the checkpoints table (server stores) ---------------------------------------------------------
def has_blob(con: Any, sha256: str) -> bool:
    return con.execute("SELECT 1 FROM checkpoints WHERE sha256 = ?", [sha256]).fetchone() is not None


def put_blob(con: Any, sha256: str, data: bytes) -> None:
    con.execute(
        "INSERT INTO checkpoints (sha256, data, bytes, created_at) VALUES (?, ?, ?, ?)",
        [sha256, data, len(data), now()],
    )


def get_blob(con: Any, sha256: str) -> bytes | None:
    row = con.execute("SELECT data FROM checkpoints WHERE sha256 = ?", [sha256]).fetchone()
    return None if row is None else bytes(row[0])


def drop_unused_blob(con: Any, sha256: str) -> None:
    """Delete the stored copy unless a version that is not pruned still has the same bytes."""
    con.execute(
        """DELETE FROM checkpoints WHERE sha256 = ? AND NOT EXISTS
           (SELECT 1 FROM versions WHERE sha256 = ? AND status <> 'pruned')""",
        [sha256, sha256],
    )
