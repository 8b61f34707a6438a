"""What the round claims (ida_cli/store/claims.py) cost a scripted round: the same `ida round` on
copies of one database, run alternately by this checkout and by an older one without claims.

    .venv/bin/python -m bench.perf.claims_overhead OLD_CHECKOUT [QUESTIONS] [REPEATS]

Both run with this .venv's interpreter, each from its own folder (`python -m ida_cli` imports the
checkout it is started in). Writes bench/out/claims_overhead.json and prints the medians."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")


def ida(cwd: Path, db: Path, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "ida_cli", "--db", str(db), *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    old = Path(sys.argv[1]).resolve()
    questions = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    tmp = Path(tempfile.mkdtemp(prefix="claims-overhead-"))
    base = tmp / "base.duckdb"
    gen = [
        "questions",
        "generate",
        "--task",
        "permutation",
        "--size",
        "8",
        "--count",
        str(questions),
        "--seed",
        "1",
    ]
    ida(old, base, *gen)  # the older schema: the newer checkout migrates its copies itself
    times: dict[str, list[float]] = {"old": [], "new": []}
    try:
        for i in range(repeats):
            for name, cwd in (("old", old), ("new", ROOT)) if i % 2 == 0 else (("new", ROOT), ("old", old)):
                db = tmp / f"{name}-{i}.duckdb"
                shutil.copy(base, db)
                times[name].append(ida(cwd, db, "round", "--strategy", "full", "--questions", str(questions)))
    finally:
        shutil.rmtree(tmp)
    out = {
        "questions": questions,
        "repeats": repeats,
        "old_seconds": times["old"],
        "new_seconds": times["new"],
        "old_median": statistics.median(times["old"]),
        "new_median": statistics.median(times["new"]),
        "ratio_new_old": statistics.median(times["new"]) / statistics.median(times["old"]),
    }
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "claims_overhead.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
