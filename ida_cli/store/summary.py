"""What `ida status` reports, read in one transaction: counts, calls, the last round, each
overseer's and annotator's activity, the newest versions and metrics."""

from __future__ import annotations

from typing import Any

from ida_cli.store.migrations import TABLES
from ida_cli.store.presence import presence


def summary(con: Any) -> dict[str, Any]:
    """Everything `ida status` shows but the database's name, size and schema version."""

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
    accuracy = one("SELECT count(*) FILTER (WHERE correct), count(correct) FROM trees WHERE source = 'round'")
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


def table_frame(con: Any, table: str) -> Any:
    """A whole table as a polars frame, in id order (`table` is one of TABLES)."""
    if table not in TABLES:
        raise ValueError(table)
    return con.execute(f"SELECT * FROM {table} ORDER BY 1").pl()
