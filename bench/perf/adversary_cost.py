"""What the state probe (adversary/probe.py) adds to the adversary's scoring time (issue 4). On one
database's latest ML and adversary, the same batch of eval nodes is scored by the adversary with its
probes and without them, alternating, beside ML's own batched answer of those nodes (what a round
pays anyway before it scores). Medians of REPEATS runs of each, side by side.

    bench/perf/adversary_cost.py DB [NODES] [REPEATS]      (default 2000 nodes, 7 repeats)

Prints one JSON line. The database is not written."""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import eval_nodes
from ida_cli.learn import adversarial
from ida_cli.learn.data import resolve_task
from ida_cli.learn.versions import load_model
from ida_cli.store import Store


def main() -> None:
    db = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    store = Store(db)
    with store.read() as con:
        task_name = resolve_task(con, None)
    ml = load_model(store, task_name)
    assert ml is not None
    with_probe, _ = adversarial.load_scorer(store, task_name, ml)
    assert with_probe is not None
    nodes, _ = eval_nodes(store, task_name)
    nodes = [nodes[i] for i in np.random.default_rng(0).permutation(len(nodes))[:count]]
    without = copy.copy(with_probe)  # the same network and stacks, no probe of ML's state
    without.probes = {}
    answers = ml.answer(nodes)
    items = [(c, q, a) for (c, q), (a, _) in zip(nodes, answers, strict=True)]
    logps = [lp for _, lp in answers]
    times: dict[str, list[float]] = {"answer": [], "with_probe": [], "without_probe": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        ml.answer(nodes)
        times["answer"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        a = with_probe.score(items, logps)
        times["with_probe"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = without.score(items, logps)
        times["without_probe"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "db": str(db),
                "task": task_name,
                "nodes": len(nodes),
                "repeats": repeats,
                "probe_kinds": sorted(with_probe.probes),
                "probe_changed_scores": bool(np.any(np.asarray(a) != np.asarray(b))),
                "median_seconds": {k: round(v, 3) for k, v in med.items()},
                "probe_over_plain_scoring": round(med["with_probe"] / med["without_probe"], 2),
                "scoring_with_probe_over_answering": round(med["with_probe"] / med["answer"], 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
