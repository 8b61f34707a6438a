"""`make demo`: the main job on the default database, run through the real command line.

Until the learning issues land this is scripted full HCH on every built-in task: questions are
generated where the pool is short, one round is amplified per task, and a tree is drawn."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

TASKS = ("permutation", "assignments", "wildcard", "unionfind", "shortpath")
SIZE, PER_ROUND = 8, 8


def ida(*args: str, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "ida_cli", *args]
    print(f"$ ida {shlex.join(args)}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, text=True, stdout=subprocess.PIPE if capture else None)
    if done.returncode:
        sys.exit(done.returncode)
    return done.stdout or ""


def main() -> None:
    db = os.environ.get("IDA_DB", "ida.duckdb")
    os.environ["IDA_DB"] = db
    ida("init")
    status = json.loads(ida("status", "--json", capture=True))
    for n, task in enumerate(TASKS):
        rows = [r for r in status["questions"] if r["task"] == task and r["split"] == "train"]
        left = sum(r["questions"] - r["labelled"] for r in rows)
        if left < PER_ROUND:
            seed = 1000 * (n + 1) + sum(r["questions"] for r in rows)
            ida(
                "questions",
                "generate",
                "--task",
                task,
                "--size",
                str(SIZE),
                "--count",
                "64",
                "--seed",
                str(seed),
            )
            if not any(r["task"] == task and r["split"] == "eval" for r in status["questions"]):
                ida(
                    "questions",
                    "generate",
                    "--task",
                    task,
                    "--size",
                    str(SIZE),
                    "--count",
                    "64",
                    "--seed",
                    str(seed),
                    "--split",
                    "eval",
                )
        result = json.loads(
            ida(
                "round",
                "--task",
                task,
                "--strategy",
                "full",
                "--questions",
                str(PER_ROUND),
                "--seed",
                str(n),
                "--json",
                capture=True,
            )
        )
        print(
            f"{task:12s} {result['questions']} trees, {result['nodes']:5d} nodes, "
            f"{result['overseer_calls']:5d} overseer calls ({result['primitive_calls']} primitive), "
            f"amplified accuracy {result['accuracy']:.0%}",
            flush=True,
        )
        last_tree = result["trees"][-1]
    ida("trees", "show", str(last_tree), "--depth", "3")
    ida("status")


if __name__ == "__main__":
    main()
