"""How many trees a round walks at once (the walker's concurrency) against its CPU: paired rounds
on fresh copies of one database, the same trees by construction (each tree draws from its own
question's generator). Seventeenth session.

    python -m bench.probes.concurrency DB --task shortpath --questions 320 --levels 64,256 --pairs 3 \
        [--decode-chunks 64,256]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys, time
from ida_cli.walk.walker import Walker
Walker.walk_many.__defaults__ = (int(sys.argv[2]),)
import ida_cli.model.decode as decode
decode.DECODE_CHUNK = int(sys.argv[5])
from ida_cli.rounds.options import RoundOptions
from ida_cli.rounds.run import load_models, run_round
from ida_cli.store import Store
opts = RoundOptions(task=sys.argv[3], strategy="adversary", questions=int(sys.argv[4]), seed=99,
                    temperature=0.05, confidence=-0.15)
store = Store(sys.argv[1])
ml, scorer, _ = load_models(store, opts)
start = time.process_time()
r = run_round(store, opts, ml=ml, scorer=scorer)
print(json.dumps({"cpu": time.process_time() - start, "overseer_calls": r.overseer_calls,
                  "correct": r.correct, "trees": r.trees}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path)
    ap.add_argument("--task", default="shortpath")
    ap.add_argument("--questions", type=int, default=320)
    ap.add_argument("--levels", default="64,256")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--decode-chunks", default="64", help="sequences per decoding pass, e.g. 64,256")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "concurrency.jsonl")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    env = {"IDA_THREADS": "1", "PATH": "/usr/bin:/bin"}
    with open(args.out, "a") as out:
        for rep in range(args.pairs):
            settings = [
                (int(a), int(b)) for a in args.levels.split(",") for b in args.decode_chunks.split(",")
            ]
            for level, chunk in settings:
                with tempfile.TemporaryDirectory() as tmp:
                    db = Path(tmp) / "db.duckdb"
                    shutil.copy(args.db, db)
                    shutil.copytree(f"{args.db}.checkpoints", f"{db}.checkpoints")
                    cmd = [
                        sys.executable,
                        "-c",
                        CHILD,
                        str(db),
                        str(level),
                        args.task,
                        str(args.questions),
                        str(chunk),
                    ]
                    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
                    if done.returncode:
                        raise SystemExit(done.stderr[-2000:])
                    row = {
                        "rep": rep,
                        "concurrency": level,
                        "decode_chunk": chunk,
                        **json.loads(done.stdout.splitlines()[-1]),
                    }
                    print(json.dumps(row), flush=True)
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
