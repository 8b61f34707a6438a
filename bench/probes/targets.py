"""Why does an amplified run plateau below the supervised baseline? Train ML from scratch on one
experiment database's training rows, changed one way at a time, and evaluate each on the eval split.

    bench/probes/targets.py DB VARIANT SECONDS

VARIANT:
  all       the rows `ida train model` gathers (amplified answers, the overseer's steps)
  truth     the same rows with every answer target replaced by the ground truth
  roots     only the answer rows of root questions (amplified answers)
  rootruth  only root questions, with their ground truth
  answers   every answer row, no fan-out / fan-in rows
The database is copied first (the original is not written). Prints one JSON line.
PROBE_WARM=1 starts from the database's latest model, as an experiment's cycle does."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench.common import copy_db
from ida_cli.learn import training
from ida_cli.learn.evaluate import evaluate
from ida_cli.store import Store
from ida_cli.tasks import get_task
from ida_cli.vocabulary import canonical


def main() -> None:
    src, variant, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    warm = os.environ.get("PROBE_WARM") == "1"  # start from the experiment's latest model, as a cycle does
    tmp, db = copy_db(src, "probe-targets-", checkpoints=warm)
    store = Store(db)
    with store.read() as con:
        task_name = training.resolve_task(con, None)
        rows = training.gather(con, task_name, False)
        roots = {
            (cid, json.dumps(q, sort_keys=True))
            for cid, q in (
                (cid, json.loads(q))
                for cid, q in con.execute(
                    "SELECT t.context_id, n.question FROM nodes n JOIN trees t ON t.id = n.tree_id "
                    "WHERE n.parent_id IS NULL"
                ).fetchall()
            )
        }
    task = get_task(task_name)
    before = rows.counts()
    answer_rows = [r for r in rows.items if r[2] == "answer"]
    wrong = sum(canonical(task.truth(r[1], r[3])) != canonical(r[5]) for r in answer_rows)
    root_rows = [r for r in answer_rows if (r[0], json.dumps(r[3], sort_keys=True)) in roots]
    root_wrong = sum(canonical(task.truth(r[1], r[3])) != canonical(r[5]) for r in root_rows)
    if variant == "truth":
        rows.items = [(*r[:5], task.truth(r[1], r[3])) if r[2] == "answer" else r for r in rows.items]
    elif variant == "roots":
        rows.items = root_rows
    elif variant == "rootruth":
        rows.items = [(*r[:5], task.truth(r[1], r[3])) for r in root_rows]
    elif variant == "answers":
        rows.items = answer_rows
    elif variant != "all":
        raise SystemExit(f"unknown variant {variant}")
    training.gather = lambda con, task, supervised: rows  # type: ignore[assignment]
    t0 = time.perf_counter()
    r = training.train_model(
        store,
        training.TrainModelOptions(
            task=task_name, minutes=seconds / 60, eval_every=100, patience=10**6, warm=warm, fresh=not warm
        ),
    )
    result = evaluate(store, task_name, "eval")
    print(
        json.dumps(
            {
                "db": str(src),
                "variant": variant,
                "warm": warm,
                "seconds": seconds,
                "rows_before": before,
                "answer_rows_wrong": f"{wrong}/{len(answer_rows)}",
                "root_rows_wrong": f"{root_wrong}/{len(root_rows)}",
                "trained_on": r["data"],
                "steps": r["metrics"].get("steps"),
                "best_step": r["metrics"].get("best_step"),
                "history": [(h["step"], round(h["held_accuracy"], 3)) for h in r["metrics"]["history"]],
                "wall": round(time.perf_counter() - t0, 1),
                "eval_accuracy": result["accuracy"],
            }
        ),
        flush=True,
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
