"""The online learner's step with its uniformly drawn batch split into sub-batches of similar
lengths (`batch.length_groups`), against the whole batch padded to its longest: the same loss and
gradient, and the seconds a step, side by side on the same batches.

    python -m bench.probes.split_batch DB [--steps N] [--threads T] [--overheads 0,128,256,512]

DB is any experiment database of the task (its stored rows are the replay). Prints one JSON line:
padding share of the whole batches, the largest relative gradient difference, and per overhead
the median seconds a step and its ratio to the whole batch's (interleaved, so load hits both)."""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main() -> None:
    from ida_cli.learn.continual import Learner, LearnerConfig, vocabulary
    from ida_cli.learn.data import gather
    from ida_cli.model.batch import collate, length_groups
    from ida_cli.model.train import batch_loss, split_loss
    from ida_cli.store import Store, questions

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--overheads", default="0,128,256,512")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    store = Store(args.db)
    with store.read() as con:
        task = con.execute("SELECT task FROM questions LIMIT 1").fetchone()[0]
        rows = gather(con, task, False)
        sample = questions.sample_train(con, task, 1, 300)
    learner = Learner.fresh(task, vocabulary(task, sample, rows), LearnerConfig(seed=1))
    torch.set_num_threads(args.threads)
    learner.set_data(rows)
    net, bag = learner.net, learner.net.cfg.bag
    overheads = [int(x) for x in args.overheads.split(",")]

    def grads() -> torch.Tensor:
        g = torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
        net.zero_grad(set_to_none=True)
        return g

    times: dict[str, list[float]] = {"whole": [], **{f"split{o}": [] for o in overheads}}
    padding, worst = [], 0.0
    for _ in range(args.steps):
        picks = learner.rng.integers(len(learner.seqs), size=min(32, len(learner.seqs)))
        drawn = [learner.seqs[i] for i in picks]
        lengths = [learner.lengths[i] for i in picks]
        started = time.perf_counter()
        t = collate(drawn, bag=bag)
        batch_loss(net, t, 1.0).backward()
        times["whole"].append(time.perf_counter() - started)
        whole = grads()
        padding.append(1 - sum(lengths) / (len(drawn) * max(lengths)))
        for o in overheads:
            started = time.perf_counter()
            parts = [collate([drawn[i] for i in g], bag=bag) for g in length_groups(lengths, o)]
            split_loss(net, parts, 1.0)
            times[f"split{o}"].append(time.perf_counter() - started)
            worst = max(worst, float((grads() - whole).norm() / whole.norm()))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "task": task,
                "threads": args.threads,
                "steps": args.steps,
                "padding_share": round(statistics.mean(padding), 3),
                "max_relative_grad_diff": worst,
                "median_seconds": {k: round(v, 4) for k, v in med.items()},
                "speedup": {k: round(med["whole"] / v, 2) for k, v in med.items() if k != "whole"},
            }
        )
    )


if __name__ == "__main__":
    main()
