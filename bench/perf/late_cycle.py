"""Where the late cycles of a long online experiment go, two code versions side by side: each runs
`ida experiment` on its own copy of one experiment's database (from its own checkout), and this
script reads their logs.

    bench/perf/late_cycle.sh DB OLD_COMMIT NEW_COMMIT CYCLES -- EXPERIMENT FLAGS...
    .venv/bin/python -m bench.perf.late_cycle OLD.log NEW.log --label TEXT

A log is the experiment's stderr under `/usr/bin/time -v`: its progress lines give the CPU seconds
at the start of each phase, the last lines the peak memory. The first model phase of a process
reads every row cold and is reported apart from the later ones. Appends one JSON line to
bench/results/late_cycle.jsonl."""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "bench" / "results" / "late_cycle.jsonl"
LINE = re.compile(r"^cycle (\d+): (\w+) \(.* (\d+) s, CPU (\d+) s\)$")


def phases(log: str) -> list[tuple[int, str, int]]:
    """(cycle, phase, CPU seconds it took) for every phase whose end the log shows."""
    marks = [(int(m[1]), m[2], int(m[4])) for line in log.splitlines() if (m := LINE.match(line))]
    return [(c, p, nxt[2] - cpu) for (c, p, cpu), nxt in itertools.pairwise(marks)]


def summary(log: str) -> dict[str, Any]:
    done = phases(log)
    model = [(c, s) for c, p, s in done if p == "model"]
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
    late = [s for _, s in model[1:]]
    return {
        "cycles": sorted({c for c, _, _ in done}),
        "first_model_cpu_s": model[0][1] if model else None,
        "late_model_cpu_s": late,
        "late_model_median_s": statistics.median(late) if late else None,
        "round_cpu_s": [s for _, p, s in done if p == "round"],
        "eval_cpu_s": [s for _, p, s in done if p == "eval"],
        "max_rss_gb": round(int(rss[1]) / 1e6, 2) if rss else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--label", required=True)
    args = ap.parse_args()
    result: dict[str, Any] = {"label": args.label}
    for way in ("old", "new"):
        result[way] = summary(Path(getattr(args, way)).read_text())
    old, new = result["old"]["late_model_median_s"], result["new"]["late_model_median_s"]
    if old and new:
        result["late_model_speedup"] = round(old / new, 2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
