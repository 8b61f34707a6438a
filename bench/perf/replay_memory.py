"""What the online engine's replay holds in memory: one process reads every stored row of an
experiment's database into a `ReplayCache` and gives them to the learner (a resumed run's first
cycle), then, with `--grow`, reads and adds the last round again as a later cycle does.

    .venv/bin/python -m bench.perf.replay_memory DB --task permutation [--grow] [--label L]

Works on a scratch copy (the last round held back and stored again after the first read), writes
nothing to DB. Appends one JSON line to bench/results/replay_memory.jsonl: the rows and distinct
rows, the resident memory after the first read and `set_data` (and its bytes per distinct row over
the process's memory before the read), and with `--grow` the peak of the whole process (VmHWM)
after the later cycle. Memory does not depend on the machine's load, so two commits can be
compared one after the other (`git worktree`, the same DB)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bench.perf.replay_cache import _hold_last_round, _restore_last_round

OUT = Path(__file__).resolve().parents[2] / "bench" / "results" / "replay_memory.jsonl"


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    import subprocess

    from bench.common import copy_db
    from ida_cli.learn import online
    from ida_cli.learn.continual import Learner
    from ida_cli.learn.data import ReplayCache, gather
    from ida_cli.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--task", required=True)
    ap.add_argument("--grow", action="store_true")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    tmp, db = copy_db(Path(args.db), "replay-memory-", checkpoints=True)
    try:
        if args.grow:
            _hold_last_round(db, args.task)
        store = Store(db)
        with store.read() as con:
            state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
        live = online.load_live(store, state["live"], state["live_sha"])
        learner = Learner.from_state(live)
        cache = ReplayCache()
        before = _status("VmRSS")
        with store.read() as con:
            rows = gather(con, args.task, False, cache.rows)
        learner.set_data(rows, cache)
        after = _status("VmRSS")
        result = {
            "label": args.label,
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
            ).stdout.strip(),
            "db": args.db,
            "task": args.task,
            "rows": len(rows.items),
            "distinct": len(cache.examples),
            "rss_before_gb": round(before / 1e9, 3),
            "rss_after_gb": round(after / 1e9, 3),
            "bytes_per_distinct_row": round((after - before) / max(1, len(cache.examples))),
        }
        if args.grow:
            _restore_last_round(db, cache)
            del rows
            with store.read() as con:
                rows = gather(con, args.task, False, cache.rows)
            learner.set_data(rows, cache)
            result["grown_rows"] = len(rows.items)
            result["rss_grown_gb"] = round(_status("VmRSS") / 1e9, 3)
            result["peak_gb"] = round(_status("VmHWM") / 1e9, 3)
    finally:
        shutil.rmtree(tmp)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
