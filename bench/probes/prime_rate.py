"""How often the primed overseer H' took ML's step in experiment databases (docs/spec.md §2.3):
the rate `--strategy random --prime-rate R` must match for a fair control (issue 23); and how
often a subquestion that ML answered was recursed on (what `--p` matches).

    python -m bench.probes.prime_rate DB...

Counts the actions with a priming note whose proposal was usable (an unusable one is refused
before any draw, whatever the strategy), per round and in all, and prints one JSON line per
database and one for all of them. Read-only."""

from __future__ import annotations

import json
import sys

import duckdb


def rates(db: str) -> dict[str, object]:
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            """SELECT t.round_id,
                      count(*) FILTER (WHERE json_extract_string(a.note, '$.primed') = 'true'), count(*)
               FROM actions a JOIN trees t ON t.id = a.tree_id
               WHERE a.note IS NOT NULL AND json_extract_string(a.note, '$.primed') IS NOT NULL
                 AND coalesce(json_extract_string(a.note, '$.invalid'), 'false') = 'false'
               GROUP BY t.round_id ORDER BY t.round_id"""
        ).fetchall()
        recursed, answered = con.execute(
            """SELECT count(*) FILTER (WHERE recursed), count(*) FROM nodes
               WHERE parent_id IS NOT NULL AND ml_answer IS NOT NULL AND NOT primitive"""
        ).fetchone() or (0, 0)
    taken, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    return {
        "db": db,
        "taken": taken,
        "decisions": total,
        "rate": taken / total if total else None,
        "per_round": {int(r[0]): round(r[1] / r[2], 4) for r in rows},
        "recursion_rate": recursed / answered if answered else None,
    }


def main(dbs: list[str]) -> None:
    got = [rates(db) for db in dbs]
    for row in got:
        print(json.dumps(row))
    taken = sum(int(r["taken"]) for r in got)  # type: ignore[call-overload]
    total = sum(int(r["decisions"]) for r in got)  # type: ignore[call-overload]
    rate = taken / total if total else None
    print(json.dumps({"all": len(got), "taken": taken, "decisions": total, "rate": rate}))


if __name__ == "__main__":
    main(sys.argv[1:])
