"""Shared PostgreSQL label store under load: N scripted annotators (processes), each an `ida label`
session (LabelSession, the claiming and commit code the terminal uses) that accepts ML's suggestion
at every step, against one PostgreSQL server; A actions in all.

Checks that no action is lost or stored twice and no question is served twice, and reports per
action the latency a person would wait (key pressed → next screen ready: commit, walk, next
question) and the commit alone (the step's write transaction), p50 and p99.

    .venv/bin/python -m bench.perf.pg_annotators                # 8 annotators, 10,000 actions
    .venv/bin/python -m bench.perf.pg_annotators --annotators 4 --actions 2000 --url postgresql://...

Without --url it starts a throwaway server (Debian's binaries, default durability settings: fsync
and synchronous_commit on) on a free loopback port and removes it afterwards. Results go to
bench/out/pg_annotators.json."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def annotator(url: str, name: str, budget: int) -> dict[str, Any]:
    """One scripted annotator's session; its per-action latencies and commit times."""
    from ida_cli.label import LabelOptions, LabelSession
    from ida_cli.store import Store
    from tests.postgres.test_postgres_label import TASK, AcceptingTerm, ExpertModels

    commits: list[float] = []

    class Timed(LabelSession):
        def _commit_step(self, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return super()._commit_step(*args, **kwargs)
            finally:
                commits.append(time.perf_counter() - t)

    term = AcceptingTerm(budget)
    opts = LabelOptions(name, task=TASK, strategy="full", seed=hash(name) % 1000)
    session = Timed(Store(url, command="ida label"), opts, term, ExpertModels())
    started = time.perf_counter()
    session.start()
    summary = session.run()
    return {
        "name": name,
        "keys": term.sent,
        "labelled": summary.labelled,
        "status": summary.status,
        "latencies": term.latencies,
        "commits": commits,
        "seconds": time.perf_counter() - started,
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(p / 100 * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--actions", type=int, default=10_000, help="actions in all")
    parser.add_argument("--url", help="an existing server's database (default: a throwaway server)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "pg_annotators.json")
    args = parser.parse_args()

    from ida_cli.project.questions import generate
    from ida_cli.store import Store
    from tests.helpers import PgServer, postgres_bindir
    from tests.postgres.test_postgres_label import TASK, check_store

    server = None
    url = args.url
    if url is None:
        bindir = postgres_bindir()
        if bindir is None:
            sys.exit("no PostgreSQL binaries (initdb): apt-get install postgresql, or pass --url")
        server = PgServer(bindir, fast=False)
        url = server.new_database()
    try:
        per = args.actions // args.annotators
        budgets = [per + (1 if i < args.actions % args.annotators else 0) for i in range(args.annotators)]
        # wildcard size 8 takes about 8 steps a question: enough questions that nobody runs out
        questions = max(args.actions // 4, 100)
        generate(Store(url), TASK, 8, questions, 11)
        names = [f"bench{i}" for i in range(args.annotators)]
        load_before = os.getloadavg()
        started = time.perf_counter()
        with ProcessPoolExecutor(args.annotators, mp_context=get_context("spawn")) as pool:
            runs = list(pool.map(annotator, [url] * len(names), names, budgets))
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        pressed = sum(r["keys"] for r in runs)
        totals = check_store(url, runs)  # raises on a lost or duplicated step or a double serve
        with Store(url).read() as con:
            stored = con.execute(
                "SELECT count(*) FROM actions WHERE actor LIKE 'human:%' AND kind IN ('fan_out', 'fan_in')"
            ).fetchone()[0]
            distinct = con.execute(
                """SELECT count(*) FROM (SELECT DISTINCT item_id, kind, step, note FROM actions
                   WHERE actor LIKE 'human:%' AND kind IN ('fan_out', 'fan_in'))"""
            ).fetchone()[0]
            served_twice = con.execute(
                """SELECT count(*) FROM (SELECT question_id FROM label_items WHERE status IN ('open', 'done')
                   GROUP BY question_id HAVING count(*) > 1)"""
            ).fetchone()[0]
        latencies = [x for r in runs for x in r["latencies"]]
        commits = [x for r in runs for x in r["commits"]]
        doc = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "annotators": args.annotators,
            "actions_pressed": pressed,
            "actions_stored": int(stored),
            "lost": max(pressed - int(stored), 0),
            "duplicated": int(stored) - int(distinct),
            "questions_served_twice": int(served_twice),
            "questions_done": totals["done"],
            "wall_seconds": round(wall, 2),
            "actions_per_second": round(pressed / wall, 1),
            "latency_ms": {
                "p50": round(1000 * pct(latencies, 50), 1),
                "p99": round(1000 * pct(latencies, 99), 1),
                "mean": round(1000 * statistics.fmean(latencies), 1),
                "n": len(latencies),
            },
            "commit_ms": {
                "p50": round(1000 * pct(commits, 50), 1),
                "p99": round(1000 * pct(commits, 99), 1),
                "n": len(commits),
            },
            "per_annotator": [
                {"name": r["name"], "actions": r["keys"], "questions": r["labelled"], "status": r["status"]}
                for r in runs
            ],
            "server": "throwaway, default durability" if server else "given by --url",
            "loadavg_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "cpus": os.cpu_count(),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps({k: v for k, v in doc.items() if k != "per_annotator"}, indent=2))
        print(f"wrote {args.out}")
        if doc["lost"] or doc["duplicated"] or doc["questions_served_twice"]:
            sys.exit("lost, duplicated or doubly served work: see above")
    finally:
        if server is not None:
            from ida_cli.store import postgres

            postgres.close_all()
            server.close()


if __name__ == "__main__":
    main()
