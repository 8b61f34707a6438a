"""Issue 8 target: `ida round --workers 2` against the serial round, side by side.

Each repeat copies one prepared database (the same questions), then runs the serial round and the
parallel round on fresh copies, alternating which goes first, so that load from other work on the
machine hits both alike. Both are whole `ida round --json` commands in a subprocess; the figures
are the round's own nodes per second (its walking and storing, as the command reports it) and the
command's wall time (interpreter start, imports, picking and worker start-up included). Checks
that both stored the same trees. After each pair, a trivially parallel loop measures what the
machine gives `--workers` processes at that moment (the ceiling for any ratio).

Writes bench/out/parallel.json. Usage:
  .venv/bin/python -m bench.perf.parallel [--task T] [--size N] [--questions C] [--repeats R] [--workers W]"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IDA = [sys.executable, "-m", "ida_cli"]


def ida(db: Path, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [*IDA, "--db", str(db), *args], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy()
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"ida {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return wall, r.stdout


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_ceiling(workers: int, n: int = 6_000_000) -> float:
    """What the machine gives `workers` processes right now: a trivially parallel Python loop's
    speedup over one process (2.0 on two idle cores; less while other work holds the CPUs)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(spin, [1] * workers))  # started before the clock
        t0 = time.perf_counter()
        spin(n * workers)
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        list(pool.map(spin, [n] * workers))
        return one / (time.perf_counter() - t0)


def stored_trees(db: Path) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT id, question_id, nodes, answer, overseer_calls FROM trees ORDER BY id"
        ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="permutation")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--questions", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    a = parser.parse_args()
    round_args = [
        "round",
        "--strategy",
        "full",
        "--questions",
        str(a.questions),
        "--seed",
        str(a.seed),
        "--json",
    ]
    runs: dict[str, list[dict[str, float]]] = {"serial": [], "parallel": []}
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        template = tmp / "template.duckdb"
        gen = ["questions", "generate", "--task", a.task, "--size", str(a.size), "--count", str(a.questions)]
        ida(template, *gen, "--seed", str(a.seed))
        for r in range(a.repeats):
            order = ["serial", "parallel"] if r % 2 == 0 else ["parallel", "serial"]
            for side in order:
                db = tmp / f"{side}-{r}.duckdb"
                shutil.copy(template, db)
                extra = ["--workers", str(a.workers)] if side == "parallel" else []
                wall, out = ida(db, *round_args, *extra)
                doc = json.loads(out)
                runs[side].append(
                    {"nodes": doc["nodes"], "nodes_per_s": doc["nodes_per_second"], "round_s": doc["seconds"]}
                    | {"wall_s": wall}
                )
                print(
                    f"repeat {r} {side:8s} {doc['nodes']} nodes  {doc['nodes_per_second']:9,.0f} nodes/s  "
                    f"round {doc['seconds']:.2f} s  wall {wall:.2f} s",
                    file=sys.stderr,
                )
            ceilings.append(machine_ceiling(a.workers))
            print(f"repeat {r} machine ceiling {ceilings[-1]:.2f}x", file=sys.stderr)
            if stored_trees(tmp / f"serial-{r}.duckdb") != stored_trees(tmp / f"parallel-{r}.duckdb"):
                raise SystemExit(f"repeat {r}: the parallel round stored other trees than the serial one")
            for side in order:
                (tmp / f"{side}-{r}.duckdb").unlink()

    def med(side: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[side])

    pair_ratios = [
        p["nodes_per_s"] / s["nodes_per_s"] for s, p in zip(runs["serial"], runs["parallel"], strict=True)
    ]
    wall_ratios = [s["wall_s"] / p["wall_s"] for s, p in zip(runs["serial"], runs["parallel"], strict=True)]
    summary = {
        "task": a.task,
        "size": a.size,
        "questions": a.questions,
        "repeats": a.repeats,
        "workers": a.workers,
        "cpus": os.cpu_count(),
        "nodes_per_tree": runs["serial"][0]["nodes"] / a.questions,
        "serial_nodes_per_s": med("serial", "nodes_per_s"),
        "parallel_nodes_per_s": med("parallel", "nodes_per_s"),
        "ratio_of_medians": med("parallel", "nodes_per_s") / med("serial", "nodes_per_s"),
        "median_pair_ratio": statistics.median(pair_ratios),
        "serial_wall_s": med("serial", "wall_s"),
        "parallel_wall_s": med("parallel", "wall_s"),
        "wall_ratio": statistics.median(wall_ratios),
        "machine_ceiling": statistics.median(ceilings),
        "machine_ceilings": ceilings,
        "load_average": os.getloadavg(),
        "runs": runs,
    }
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "parallel.json").write_text(json.dumps(summary, indent=1) + "\n")
    s = summary
    print(
        f"{a.task} size {a.size}, {a.questions} trees ({s['nodes_per_tree']:.0f} nodes each)"
        f", {a.repeats} pairs"
    )
    print(f"| | serial | --workers {a.workers} | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| round nodes/s (median) | {s['serial_nodes_per_s']:,.0f} | {s['parallel_nodes_per_s']:,.0f} | "
        f"{s['ratio_of_medians']:.2f}x (median of pairs {s['median_pair_ratio']:.2f}x) |"
    )
    print(f"| machine ceiling (a parallel loop, median) | 1 | {s['machine_ceiling']:.2f}x | |")
    print(
        f"| command wall time (median) | {s['serial_wall_s']:.2f} s | {s['parallel_wall_s']:.2f} s | "
        f"{s['wall_ratio']:.2f}x |"
    )


if __name__ == "__main__":
    main()
