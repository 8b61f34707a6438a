"""How good are the labels an experiment collected, apart from its per-cycle training budget? Train
ML from scratch on one experiment database's stored rows (what `ida train model` gathers) for a
number of steps, once per seed, and evaluate each on the database's eval split.

    .venv/bin/python -m bench.probes.refit STEPS SEEDS DB [DB ...]

The databases are copied first (the originals are not written). Prints one JSON line per database:
the experiment's own last accuracy and calls beside the refit accuracies."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

from bench.common import copy_db
from ida_cli.experiment.run import curve
from ida_cli.learn import training
from ida_cli.learn.evaluate import evaluate
from ida_cli.store import Store


def refit(src: Path, steps: int, seed: int) -> float:
    tmp, db = copy_db(src, "refit-")
    try:
        store = Store(db)
        with store.read() as con:
            task = training.resolve_task(con, None)
        training.train_model(
            store,
            training.TrainModelOptions(
                task=task, minutes=60, max_steps=steps, eval_every=100, patience=10**6, seed=seed, fresh=True
            ),
        )
        return float(evaluate(store, task, "eval")["accuracy"])
    finally:
        shutil.rmtree(tmp)


def main() -> None:
    steps, seeds = int(sys.argv[1]), int(sys.argv[2])
    for name in sys.argv[3:]:
        src = Path(name)
        points = curve(Store(src))
        last = points[-1]
        accs = [refit(src, steps, seed) for seed in range(seeds)]
        print(
            json.dumps(
                {
                    "db": src.name,
                    "cycles": len(points),
                    "overseer_calls": last["overseer_calls"],
                    "labelled": last["labelled"],
                    "last_accuracy": last["accuracy"],
                    "steps": steps,
                    "refit_accuracies": accs,
                    "refit_mean": round(statistics.fmean(accs), 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
