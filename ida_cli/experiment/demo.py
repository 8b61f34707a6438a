"""`make demo`: the main job, run through the real command line.

A short scripted active-learning comparison on the wildcard task (size 8): the adversary strategy
with the primed overseer against full HCH (the overseer does all the work), each in its own
database beside the default one, each until 90% eval accuracy, then the comparison table and the
learning-curve plot. A few
minutes on 2 CPU cores. The default database (./ida.duckdb or $IDA_DB) gets a scripted round on
every task, to browse with `ida status` and `ida trees show`."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

TASKS = ("permutation", "assignments", "wildcard", "unionfind", "shortpath")
# The plain command with its defaults, which are the measured best (issue 23): the online engine,
# 160 questions a cycle (at 40 the learner starves), τ 0.05 and the primed overseer at α' −0.15
# once an adversary exists.
EXPERIMENT = [
    "--task",
    "wildcard",
    "--size",
    "8",
    # step budgets: the same curve on any machine, however loaded
    "--train-steps",
    "200",
    "--adversary-steps",
    "50",
    "--eval-questions",
    "100",
    "--until",
    "0.9",
    "--seed",
    "1",
]
PRIMED = ["--budget", "4000", "--max-cycles", "5"]
FULL = ["--budget", "4000", "--max-cycles", "4"]


def ida(*args: str, capture: bool = False) -> str:
    print(f"$ ida {shlex.join(args)}", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "ida_cli", *args], text=True, stdout=subprocess.PIPE if capture else None
    )
    if done.returncode:
        sys.exit(done.returncode)
    return done.stdout or ""


def main() -> None:
    db = Path(os.environ.get("IDA_DB", "ida.duckdb"))
    os.environ["IDA_DB"] = str(db)
    ida("init")
    status = json.loads(ida("status", "--json", capture=True))
    for n, task in enumerate(TASKS):
        rows = [r for r in status["questions"] if r["task"] == task and r["split"] == "train"]
        if sum(r["questions"] - r["labelled"] for r in rows) < 4:
            seed = 1000 * (n + 1) + sum(r["questions"] for r in rows)
            ida("questions", "generate", "--task", task, "--size", "8", "--count", "32", "--seed", str(seed))
        ida(
            "round",
            "--task",
            task,
            "--strategy",
            "full",
            "--questions",
            "4",
            "--seed",
            str(n),
            "--json",
            capture=True,
        )
    folder = db.with_name(db.name + ".demo")
    folder.mkdir(exist_ok=True)
    dbs = []
    for strategy in ("adversary", "full"):
        extra = PRIMED if strategy == "adversary" else FULL
        # named by its flags: a demo of another ida version resumes nothing it did not start
        tag = hashlib.sha256(shlex.join([*EXPERIMENT, *extra]).encode()).hexdigest()[:8]
        exp_db = folder / f"wildcard-{strategy}-{tag}.duckdb"
        dbs.append(str(exp_db))
        ida(
            "--db",
            str(exp_db),
            "experiment",
            "--strategy",
            strategy,
            *EXPERIMENT,
            *extra,
            "--json",
            capture=True,
        )
    ida("report", *dbs, "--plot", str(folder / "curves.png"))
    print(f"plot: {folder / 'curves.png'}")


if __name__ == "__main__":
    main()
