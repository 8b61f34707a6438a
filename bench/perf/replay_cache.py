"""What the online engine's replay cache saves a cycle: the read of every stored row and the
learner's `set_data` on them, from scratch (as every cycle did before) and with a warm
`ReplayCache` (a cycle after the first of a process), alternately, on one experiment's database.

    .venv/bin/python -m bench.perf.replay_cache DB --task permutation [--repeats 3] [--grow]

Reads DB and its live state, writes nothing there. With `--grow`, works on a scratch copy whose
last round is held back while the cache warms and stored again before each timed read, so that
the cached way reads only that round's trees (what a cycle of a run does) while the scratch way
reads everything. Appends one JSON line to bench/results/replay_cache.jsonl: the rows, and per
way the median CPU seconds of the read and of `set_data`, and whether both ways made the same
rows and sequences."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "bench" / "results" / "replay_cache.jsonl"


def main() -> None:
    from ida_cli.learn import online
    from ida_cli.learn.continual import Learner
    from ida_cli.learn.data import ReplayCache, gather
    from ida_cli.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--task", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--grow", action="store_true")
    args = ap.parse_args()
    tmp = None
    if args.grow:
        from bench.common import copy_db

        tmp, db = copy_db(Path(args.db), "replay-grow-", checkpoints=True)
        _hold_last_round(db, args.task)
        store = Store(db)
    else:
        store = Store(args.db)
    with store.read() as con:
        state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
    live = online.load_live(store, state["live"], state["live_sha"])
    caches = [ReplayCache()]
    times: dict[str, dict[str, list[float]]] = {
        w: {"read": [], "set_data": []} for w in ("scratch", "cached")
    }
    made: dict[str, Any] = {}

    def once(way: str, record: bool = True) -> None:
        use = caches[0] if way == "cached" else None
        t0 = time.process_time()
        with store.read() as con:
            rows = gather(con, args.task, False, use.rows if use else None)
        t1 = time.process_time()
        learner = Learner.from_state(live)
        # the learner's generator as the live state left it, for both ways: the same packing
        t2 = time.process_time()
        learner.set_data(rows, use)
        t3 = time.process_time()
        if record:
            times[way]["read"].append(t1 - t0)
            times[way]["set_data"].append(t3 - t2)
        made[way] = (len(rows.items), learner.seqs, learner.lengths)

    same = True
    if not args.grow:
        once("cached", record=False)  # warms the cache: what a process's first cycle does
    for _ in range(args.repeats):
        if args.grow:  # a cache warmed without the last round, which is then stored
            caches[0] = ReplayCache()
            once("cached", record=False)
            _restore_last_round(store.path, caches[0])
        for way in ("scratch", "cached"):
            once(way)
        same = same and made["scratch"] == made["cached"]
        if args.grow:
            _hold_last_round(store.path, args.task)
    if tmp is not None:
        shutil.rmtree(tmp)
    result = {
        "db": args.db,
        "task": args.task,
        "grow": args.grow,
        "rows": made["scratch"][0],
        "repeats": args.repeats,
        "same": same,
        **{
            f"{way}_{part}_s": round(statistics.median(v), 2)
            for way, parts in times.items()
            for part, v in parts.items()
        },
    }
    result["speedup"] = round(
        (result["scratch_read_s"] + result["scratch_set_data_s"])
        / (result["cached_read_s"] + result["cached_set_data_s"]),
        2,
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps(result))


_HELD = (("actions", "tree_id"), ("nodes", "tree_id"), ("trees", "id"))


def _hold_last_round(db: Path, task: str) -> None:
    """Move the trees of the task's last round, their nodes and their steps into side tables."""
    import duckdb

    with duckdb.connect(str(db)) as con:
        row = con.execute("SELECT max(round_id) FROM trees WHERE task = ?", [task]).fetchone()
        assert row is not None and row[0] is not None, "no rounds to hold back"
        ids = "SELECT id FROM trees WHERE round_id = ?"
        for table, col in _HELD:
            con.execute(
                f"CREATE TABLE held_{table} AS SELECT * FROM {table} WHERE {col} IN ({ids})", [row[0]]
            )
            con.execute(f"DELETE FROM {table} WHERE {col} IN ({ids})", [row[0]])


def _restore_last_round(db: Path, cache: Any) -> None:
    """Store the held round again, under its own ids (above every other): new trees to a warm cache
    that has read the rest."""
    import duckdb

    with duckdb.connect(str(db)) as con:
        for table, _ in reversed(_HELD):
            con.execute(f"INSERT INTO {table} SELECT * FROM held_{table}")
            con.execute(f"DROP TABLE held_{table}")
    assert cache.rows.seen is not None  # the cached way reads on from where it stopped


if __name__ == "__main__":
    main()
