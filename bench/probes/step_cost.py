"""What one ML step of the online engine costs on an experiment's rows: every amplified row,
their answer rows alone, and the task's supervised rows, from the experiment's live state (the
same weights and optimizer for each), alternating set by set.

    python -m bench.probes.step_cost DB --task unionfind [--steps 10] [--repeats 3]

Prints one JSON line: the rows per kind, and per set the median CPU seconds a step and the mean
length of its packed sequences. Run it on a copy of a finished online experiment's database (its
live state is read, never written)."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter


def main() -> None:
    from ida_cli.learn import online
    from ida_cli.learn.continual import Learner
    from ida_cli.learn.data import Rows, gather
    from ida_cli.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--task", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    store = Store(args.db)
    with store.read() as con:
        amplified, supervised = gather(con, args.task, False), gather(con, args.task, True)
        state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
    live = online.load_live(store, state["live"], state["live_sha"])
    sets = {
        "amplified": amplified,
        "answers": Rows([r for r in amplified.items if r[2] == "answer"]),
        "supervised": supervised,
    }
    seconds: dict[str, list[float]] = {k: [] for k in sets}
    length: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, rows in sets.items():
            learner = Learner.from_state(live)
            learner.set_data(rows)
            length[name] = sum(learner.lengths) / len(learner.lengths)
            started = time.process_time()
            learner.train(args.steps)
            seconds[name].append((time.process_time() - started) / args.steps)
    print(
        json.dumps(
            {
                "db": args.db,
                "rows": dict(Counter(r[2] for r in amplified.items)),
                "supervised_rows": len(supervised.items),
                **{
                    name: {
                        "s_per_step": round(statistics.median(seconds[name]), 4),
                        "mean_length": round(length[name], 1),
                    }
                    for name in sets
                },
            }
        )
    )


if __name__ == "__main__":
    main()
