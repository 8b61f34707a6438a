"""Trees whose walk recursed into a question already open on its own path (a cycle of ML's wrong
answers that the expert followed), and what the deep ones cost, per experiment database.

    python -m bench.probes.cycles DB [DB ...] [--deep 14]

Prints one JSON line per database: trees, trees with a recursed repeat of an ancestor's question,
trees deeper than --deep (unionfind's expert trees at size 8 are at most 7 deep) with their
overseer calls, and all overseer calls."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    import duckdb

    ap = argparse.ArgumentParser()
    ap.add_argument("dbs", nargs="+")
    ap.add_argument("--deep", type=int, default=14)
    args = ap.parse_args()
    for db in args.dbs:
        con = duckdb.connect(db, read_only=True)
        rows = con.execute("SELECT id, tree_id, parent_id, question, recursed FROM nodes").fetchall()
        totals = con.execute("SELECT count(*), coalesce(sum(overseer_calls), 0) FROM trees").fetchone()
        deeper = con.execute(
            "SELECT count(*), coalesce(sum(overseer_calls), 0), max(depth) FROM trees WHERE depth > ?",
            [args.deep],
        ).fetchone()
        con.close()
        assert totals is not None and deeper is not None  # aggregates always give a row
        (trees, calls), (deep, deep_calls, deepest) = totals, deeper
        parent = {r[0]: r[2] for r in rows}
        question = {r[0]: r[3] for r in rows}
        repeats = set()
        for _nid, tid, pid, q, recursed in rows:
            p = pid
            while recursed and p is not None:
                if question[p] == q:
                    repeats.add(tid)
                    break
                p = parent[p]
        print(
            json.dumps(
                {
                    "db": Path(db).name,
                    "trees": trees,
                    "trees_with_recursed_repeat": len(repeats),
                    f"trees_deeper_than_{args.deep}": deep,
                    "deepest": deepest,
                    "their_overseer_calls": int(deep_calls),
                    "overseer_calls": int(calls),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
