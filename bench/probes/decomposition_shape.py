"""How often each task's scripted expert asks one subquestion at a time, and how often two (issue 5).
docs/spec.md §2.1's `adversary` strategy chooses only between two: at a step with one subquestion it always
recurses, so on a task whose steps all ask one, the unprimed adversary strategy walks full HCH's
tree and can save calls only through the primed overseer H' (docs/spec.md §2.3); `bernoulli` can skip a
single subquestion. Counts over the scripted full-HCH trees of seeded questions; no model needed.

    bench/probes/decomposition_shape.py [QUESTIONS] [SIZE]     (default 200 questions a task, size 8)

Prints one JSON line per task."""

from __future__ import annotations

import json
import sys
from collections import Counter

import numpy as np

from ida_cli.learn.evaluate import expert_steps
from ida_cli.tasks import get_task
from ida_cli.vocabulary import Ask

TASKS = ("wildcard", "permutation", "unionfind", "shortpath", "assignments")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    for name in TASKS:
        task = get_task(name)
        rng = np.random.default_rng(0)
        asks: Counter[int] = Counter()
        nodes = 0
        for _ in range(count):
            context = task.generate_context(size, rng)
            question = task.generate_question(context, rng)
            steps = expert_steps(task, context, question, 10**6)
            nodes += sum(mode == "fan_out" for mode, *_ in steps)
            asks.update(len(y.questions) for *_, y in steps if isinstance(y, Ask))
        total = sum(asks.values())
        print(
            json.dumps(
                {
                    "task": name,
                    "questions": count,
                    "nodes_per_root": round(nodes / count, 1),
                    "asks": total,
                    "by_subquestions": {str(k): asks[k] for k in sorted(asks)},
                    "share_with_two": round(sum(v for k, v in asks.items() if k >= 2) / total, 3),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
