"""What the online engine's replay cache saves a cycle: the read of every stored row and the
learner's `set_data` on them, from scratch (as every cycle did before) and with a warm
`ReplayCache` (a cycle after the first of a process), alternately, on one experiment's database.

    .venv/bin/python -m bench.perf.replay_cache DB --task permutation [--repeats 3]

Reads DB and its live state, writes nothing there. Appends one JSON line to
bench/results/replay_cache.jsonl: the rows, and per way the median CPU seconds of the read and of
`set_data`, and whether both ways made the same rows and sequences."""

from __future__ import annotations

import argparse
import json
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
    args = ap.parse_args()
    store = Store(args.db)
    with store.read() as con:
        state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
    live = online.load_live(store, state["live"], state["live_sha"])
    cache = ReplayCache()
    times: dict[str, dict[str, list[float]]] = {
        w: {"read": [], "set_data": []} for w in ("scratch", "cached")
    }
    made: dict[str, Any] = {}

    def once(way: str) -> None:
        use = cache if way == "cached" else None
        t0 = time.process_time()
        with store.read() as con:
            rows = gather(con, args.task, False, use.rows if use else None)
        t1 = time.process_time()
        learner = Learner.from_state(live)
        # the learner's generator as the live state left it, for both ways: the same packing
        t2 = time.process_time()
        learner.set_data(rows, use)
        t3 = time.process_time()
        times[way]["read"].append(t1 - t0)
        times[way]["set_data"].append(t3 - t2)
        made[way] = (len(rows.items), learner.seqs, learner.lengths)

    once("cached")  # warms the cache: what a process's first cycle does
    for _ in range(args.repeats):
        for way in ("scratch", "cached"):
            once(way)
    result = {
        "db": args.db,
        "task": args.task,
        "rows": made["scratch"][0],
        "repeats": args.repeats,
        "same": made["scratch"] == made["cached"],
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


if __name__ == "__main__":
    main()
