"""What ML's loss is made of on an experiment's rows: per mode and question kind, the rows and
their share of the rows and of the target tokens. `split_loss` averages the cross-entropy over
every target token of a batch, so a kind's share of the tokens is its share of each step's
gradient (batches are drawn uniformly from the packed rows).

    python -m bench.probes.row_mix DB --task unionfind [--supervised]

Prints one JSON document. Reads the database only (a copy of a finished experiment's is safest).
Nineteenth session, on a unionfind full-HCH run (issue 22's stall near 84%): the direct answers
the eval asks (value, parent, depth) are 11% of the rows but a smaller share of the tokens."""

from __future__ import annotations

import argparse
import json
from collections import Counter


def main() -> None:
    from ida_cli.learn.continual import vocabulary
    from ida_cli.learn.data import gather
    from ida_cli.learn.runner import to_examples
    from ida_cli.store import Store, questions

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--task", required=True)
    ap.add_argument("--supervised", action="store_true", help="the ground-truth rows instead")
    args = ap.parse_args()
    store = Store(args.db)
    with store.read() as con:
        rows = gather(con, args.task, args.supervised)
        sample = questions.sample_train(con, args.task, 1, 300)
    examples, _ = to_examples(args.task, rows, vocabulary(args.task, sample, rows))
    n_rows: Counter[str] = Counter()
    n_tokens: Counter[str] = Counter()
    for ex in examples:
        n_rows[ex.kind] += 1
        n_tokens[ex.kind] += len(ex.out) + 1  # the <eos> is a target too
    total_rows, total_tokens = sum(n_rows.values()), sum(n_tokens.values())
    print(
        json.dumps(
            {
                "db": args.db,
                "task": args.task,
                "rows": total_rows,
                "target_tokens": total_tokens,
                "by_kind": {
                    k: {
                        "rows": n_rows[k],
                        "row_share": round(n_rows[k] / total_rows, 4),
                        "token_share": round(n_tokens[k] / total_tokens, 4),
                    }
                    for k in sorted(n_rows)
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
