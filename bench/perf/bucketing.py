"""Batches of similar lengths (`ida train model --bucket`) against batches in packing order, side
by side: ML trained from scratch on one database's amplified rows for the same number of steps,
alternating the two so that machine load hits both alike. Each seed is trained both ways, and each
ML's exact-match accuracy on the database's eval split is reported beside its speed.

    .venv/bin/python -m bench.perf.bucketing DB [STEPS] [REPEATS] [ONLY]

ONLY = by_length or packing runs one way alone (e.g. by_length at twice the steps, for the same
time). The database is copied for every run (the original is not written). Prints one JSON line
per run and a summary line (medians and the ratio); writes bench/out/bucketing-DBNAME-STEPS.json."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

from bench.common import copy_db
from ida_cli.learn import training
from ida_cli.learn.evaluate import evaluate
from ida_cli.store import Store

ROOT = Path(__file__).resolve().parents[2]


def one(src: Path, steps: int, by_length: bool, seed: int) -> dict[str, float | bool]:
    tmp, db = copy_db(src, "bucketing-")
    try:
        store = Store(db)
        with store.read() as con:
            task = training.resolve_task(con, None)
        r = training.train_model(
            store,
            training.TrainModelOptions(
                task=task,
                fresh=True,
                minutes=60,
                max_steps=steps,
                eval_every=steps,
                patience=10**6,
                seed=seed,
                bucket=by_length,
            ),
        )
        accuracy = evaluate(store, task, "eval")["accuracy"]
    finally:
        shutil.rmtree(tmp)
    m = r["metrics"]
    return {
        "by_length": by_length,
        "steps": m["steps"],
        "seconds": round(m["seconds"], 2),
        "examples_per_s": round(m["examples_per_s"], 1),
        "seed": seed,
        "held_accuracy": round(m["held_accuracy"], 4),
        "eval_accuracy": round(accuracy, 4),
    }


def main() -> None:
    src = Path(sys.argv[1])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    only = sys.argv[4] if len(sys.argv) > 4 else None
    ways = {None: (True, False), "by_length": (True,), "packing": (False,)}[only]
    runs = []
    for seed in range(repeats):  # each seed trained both ways: timing side by side, learning paired
        for by_length in ways:
            runs.append(one(src, steps, by_length, seed))
            print(json.dumps(runs[-1]), flush=True)
    if only:
        return
    med = {
        k: statistics.median(float(r["examples_per_s"]) for r in runs if r["by_length"] is k)
        for k in (True, False)
    }
    summary = {
        "db": str(src),
        "steps": steps,
        "repeats": repeats,
        "median_examples_per_s_by_length": med[True],
        "median_examples_per_s_packing_order": med[False],
        "ratio": round(med[True] / med[False], 2),
        "mean_eval_accuracy_by_length": statistics.fmean(
            float(r["eval_accuracy"]) for r in runs if r["by_length"]
        ),
        "mean_eval_accuracy_packing_order": statistics.fmean(
            float(r["eval_accuracy"]) for r in runs if not r["by_length"]
        ),
    }
    print(json.dumps(summary), flush=True)
    out = ROOT / "bench" / "out" / f"bucketing-{src.stem}-{steps}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
