"""`ida status` and `ida export`: what is stored, and any table out to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.project.outputs import FORMATS, write_frame
from ida_cli.store import Store
from ida_cli.store.migrations import SCHEMA_VERSION, TABLES


def status(store: Store) -> dict[str, Any]:
    with store.read() as con:

        def one(sql: str, params: list[Any] | None = None) -> Any:
            return con.execute(sql, params or []).fetchone()

        questions = [
            {"task": t, "split": s, "size": sz, "questions": n, "labelled": lab}
            for t, s, sz, n, lab in con.execute(
                """SELECT q.task, q.split, q.size, count(*),
                          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM trees t WHERE t.question_id = q.id))
                   FROM questions q GROUP BY ALL ORDER BY 1, 2, 3"""
            ).fetchall()
        ]
        counts = {t: one(f"SELECT count(*) FROM {t}")[0] for t in TABLES if t not in ("schema_version",)}
        calls = one(
            "SELECT coalesce(sum(overseer_calls), 0), coalesce(sum(primitive_calls), 0), "
            "coalesce(sum(model_calls), 0) FROM trees"
        )
        accuracy = one(
            "SELECT count(*) FILTER (WHERE correct), count(correct) FROM trees WHERE source = 'round'"
        )
        last = one("""SELECT id, task, oracle, strategy, questions, status, started_at, finished_at
                      FROM rounds ORDER BY id DESC LIMIT 1""")
        per_actor = con.execute(
            """SELECT actor, count(*), count(DISTINCT session_id), median(seconds)
               FROM actions WHERE actor <> 'model' AND kind IN ('fan_out', 'fan_in')
               GROUP BY actor ORDER BY actor"""
        ).fetchall()
        versions = con.execute(
            """SELECT kind, max(version) FROM versions WHERE status = 'ready' GROUP BY kind ORDER BY kind"""
        ).fetchall()
        metrics = con.execute(
            """SELECT name, task, value, model_version, created_at FROM metrics
               QUALIFY row_number() OVER (PARTITION BY name, task ORDER BY id DESC) = 1 ORDER BY name, task"""
        ).fetchall()
        settings = dict(con.execute("SELECT key, value FROM settings").fetchall())
        annotators = _annotators(con)
    return {
        "db": store.display,
        "schema_version": SCHEMA_VERSION,
        "bytes": store.size_bytes(),
        "settings": settings,
        "counts": counts,
        "questions": questions,
        "overseer_calls": int(calls[0]),
        "primitive_calls": int(calls[1]),
        "model_calls": int(calls[2]),
        "amplified_accuracy": (accuracy[0] / accuracy[1]) if accuracy[1] else None,
        "last_round": None
        if last is None
        else {
            "id": last[0],
            "task": last[1],
            "oracle": last[2],
            "strategy": last[3],
            "questions": last[4],
            "status": last[5],
            "started_at": str(last[6]),
            "finished_at": None if last[7] is None else str(last[7]),
        },
        "overseers": [
            {"actor": a, "calls": n, "sessions": s, "median_seconds": m} for a, n, s, m in per_actor
        ],
        "annotators": annotators,
        "versions": {k: v for k, v in versions},
        "metrics": [
            {"name": n, "task": t, "value": v, "model_version": mv, "at": str(at)}
            for n, t, v, mv, at in metrics
        ],
    }


def _annotators(con: Any) -> list[dict[str, Any]]:
    """Each `ida label` annotator's progress: questions done, skipped, open (claimed now) and
    expired (taken over after their session went away), their live steps and median seconds, and
    whether a session of theirs is live."""
    from ida_cli.label.presence import presence

    items = {
        r[0]: r[1:]
        for r in con.execute(
            """SELECT annotator, count(*) FILTER (WHERE status = 'done'),
                      count(*) FILTER (WHERE status = 'skipped'), count(*) FILTER (WHERE status = 'open'),
                      count(*) FILTER (WHERE status = 'expired')
               FROM label_items GROUP BY annotator"""
        ).fetchall()
    }
    steps = {
        str(r[0])[len("human:") :]: r[1:]
        for r in con.execute(
            """SELECT a.actor, count(*), median(a.seconds) FROM actions a
               WHERE a.actor LIKE 'human:%' AND a.kind IN ('fan_out', 'fan_in')
               AND a.id NOT IN (SELECT u.supersedes FROM actions u WHERE u.supersedes IS NOT NULL)
               GROUP BY a.actor"""
        ).fetchall()
    }
    seen = presence(con, kill_dead=False)
    out = []
    for name in sorted(set(items) | set(seen)):
        done, skipped, open_, expired = items.get(name, (0, 0, 0, 0))
        n_steps, median = steps.get(name, (0, None))
        p = seen.get(name)
        out.append(
            {
                "annotator": name,
                "done": int(done),
                "skipped": int(skipped),
                "open": int(open_),
                "expired": int(expired),
                "steps": int(n_steps),
                "median_seconds": median,
                "live": p is not None and p.live is not None,
                "last_seen": None if p is None or p.last_seen is None else str(p.last_seen),
            }
        )
    return out


def export_table(store: Store, table: str, fmt: str, path: Path) -> int:
    if table not in TABLES:
        raise UsageError(f"unknown table '{table}': use one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}': use --format parquet, csv or jsonl")
    from ida_cli.project.outputs import check_output

    check_output(path)
    with store.read() as con:
        frame = con.execute(f"SELECT * FROM {table} ORDER BY 1").pl()
    write_frame(frame, path, fmt)
    return int(frame.height)


def init(store: Store, task: str | None, size: int | None, seed: int | None) -> dict[str, Any]:
    """Create or upgrade the database; record defaults. Never touches stored labels."""
    from ida_cli.store import records
    from ida_cli.tasks import get_task

    values: dict[str, str] = {}
    if task is not None:
        t = get_task(task)
        if size is not None and t.has_expert:
            t.check_size(size)
        values["task"] = task
    if size is not None:
        values["size"] = str(size)
    if seed is not None:
        values["seed"] = str(seed)
    existed = store.exists()
    with store.write() as con:
        records.put_settings(con, values)
        settings = records.get_settings(con)
    return {
        "db": store.display,
        "created": not existed,
        "schema_version": SCHEMA_VERSION,
        "settings": settings,
    }
