"""Foundation benchmarks (issue 2): `ida --help` start-up, generating 10,000 questions, exporting
1,000,000 node rows to parquet, and scripted full-HCH rounds in nodes per second.

Run with `make bench` (or `.venv/bin/python -m bench.perf.foundation`). Writes bench/out/foundation.json
and prints a markdown table; medians of repeated runs, alternated where two things are compared."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
IDA = [sys.executable, "-m", "ida_cli"]
TASKS = ("permutation", "assignments", "wildcard", "unionfind", "shortpath")


def run(args: list[str], db: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(
        args, env={**os.environ, "IDA_DB": str(db)}, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return time.perf_counter() - t0, out


def bench_help(tmp: Path, repeats: int = 15) -> dict[str, float]:
    entry = str(Path(sys.executable).with_name("ida"))
    ida, bare = [], []
    for _ in range(repeats):  # alternate, so load on the machine hits both alike
        ida.append(run([entry, "--help"], tmp / "h.duckdb")[0])
        bare.append(run([sys.executable, "-c", "pass"], tmp / "h.duckdb")[0])
    return {"ida_help_s": statistics.median(ida), "python_startup_s": statistics.median(bare)}


def bench_generate(tmp: Path, repeats: int = 3) -> dict[str, float]:
    out = {}
    for task in TASKS:
        walls = []
        for r in range(repeats):
            db = tmp / f"g-{task}-{r}.duckdb"
            walls.append(
                run(
                    [
                        *IDA,
                        "questions",
                        "generate",
                        "--task",
                        task,
                        "--size",
                        "8",
                        "--count",
                        "10000",
                        "--seed",
                        str(r),
                        "--json",
                    ],
                    db,
                )[0]
            )
        out[task] = statistics.median(walls)
    return out


def bench_export(tmp: Path, rows: int = 1_000_000, repeats: int = 3) -> dict[str, float]:
    import duckdb

    db = tmp / "export.duckdb"
    run([*IDA, "init"], db)
    with duckdb.connect(str(db)) as con:  # synthetic rows: the export is what is measured
        con.execute(f"""INSERT INTO nodes SELECT i, i // 100, CASE WHEN i % 100 = 0 THEN NULL ELSE i - 1 END,
            i % 2, i % 3, i % 7, '{{"x":' || (i % 64) || ',"k":' || (i % 63) || '}}', (i % 64)::VARCHAR,
            'scripted', NULL, NULL, NULL, NULL, NULL, true, i % 5 = 0, (i % 64)::VARCHAR, true
            FROM range(1, {rows} + 1) t(i)""")
    walls = [
        run(
            [*IDA, "export", "--table", "nodes", "--format", "parquet", "-o", str(tmp / f"n{r}.parquet")], db
        )[0]
        for r in range(repeats)
    ]
    return {
        "rows": rows,
        "export_parquet_s": statistics.median(walls),
        "bytes": (tmp / "n0.parquet").stat().st_size,
    }


def bench_rounds(tmp: Path, questions: int = 500, repeats: int = 3) -> dict[str, dict[str, float]]:
    from ida_cli.tasks import get_task
    from ida_cli.walk.overseer import ScriptedOverseer
    from ida_cli.walk.walker import FullStrategy, Walker

    out = {}
    for task_name in TASKS:
        stored, walked, sizes = [], [], []
        for r in range(repeats):
            db = tmp / f"r-{task_name}-{r}.duckdb"
            run(
                [
                    *IDA,
                    "questions",
                    "generate",
                    "--task",
                    task_name,
                    "--size",
                    "16",
                    "--count",
                    str(questions),
                    "--seed",
                    str(r),
                ],
                db,
            )
            doc = json.loads(
                run([*IDA, "round", "--questions", str(questions), "--seed", str(r), "--json"], db)[1]
            )
            stored.append(doc["nodes_per_second"])
            sizes.append(doc["nodes"] / doc["questions"])
            # the same walk in-process without the store, to show what the writes cost
            task = get_task(task_name)
            rng = np.random.default_rng(r)
            walker = Walker(task, ScriptedOverseer(task), FullStrategy(), r)
            items = []
            while len(items) < questions:
                ctx = task.generate_context(16, rng)
                items += [(ctx, q) for q in task.generate_questions(ctx, 8, rng)]
            t0, nodes = time.perf_counter(), 0
            for ctx, q in items[:questions]:
                nodes += len(walker.walk(ctx, q).nodes())
            walked.append(nodes / (time.perf_counter() - t0))
        out[task_name] = {
            "round_nodes_per_s": statistics.median(stored),
            "walk_only_nodes_per_s": statistics.median(walked),
            "nodes_per_tree": statistics.median(sizes),
        }
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = {
            "help": bench_help(tmp),
            "generate_10000_s": bench_generate(tmp),
            "export": bench_export(tmp),
            "rounds_size16": bench_rounds(tmp),
            "cpus": os.cpu_count(),
        }
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "foundation.json").write_text(json.dumps(results, indent=1) + "\n")
    h, e = results["help"], results["export"]
    print(
        f"ida --help: median {h['ida_help_s'] * 1000:.0f} ms "
        f"(bare python start {h['python_startup_s'] * 1000:.0f} ms)"
    )
    print("generate 10,000 questions (size 8, wall incl. start-up), median s:")
    for task, s in results["generate_10000_s"].items():
        print(f"  {task:12s} {s:.2f}")
    print(
        f"export {e['rows']:,} node rows to parquet: median {e['export_parquet_s']:.2f} s, "
        f"{e['bytes'] / 1e6:.1f} MB"
    )
    print("| task | nodes/tree | round nodes/s (stored) | walk-only nodes/s | stored/walk |")
    print("| --- | --- | --- | --- | --- |")
    for task, r in results["rounds_size16"].items():
        print(
            f"| {task} | {r['nodes_per_tree']:.0f} | {r['round_nodes_per_s']:,.0f} | "
            f"{r['walk_only_nodes_per_s']:,.0f} | {r['round_nodes_per_s'] / r['walk_only_nodes_per_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
