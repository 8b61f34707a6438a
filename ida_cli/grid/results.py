"""A finished cell's compact results file: its options and its curve, a few KB of JSON under the
results folder (committed, so a grid accumulates across runs and machines). `ida report` reads
these beside databases."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ida_cli.errors import CannotWrite, UsageError
from ida_cli.grid.spec import Cell

FORMAT = "ida-grid-cell/1"
# what a curve point keeps: enough for HC@p, the report's plots and the cost in time
KEPT = (
    "cycle",
    "size",
    "overseer_calls",
    "primitive_calls",
    "labelled",
    "accuracy",
    "adversary_auroc",
    "uncertainty_auroc",
    "wall_seconds",
    "cpu_seconds",
    "steps",
)


def path_of(results: Path, cell: Cell) -> Path:
    return results / f"{cell.key}.json"


def finished(results: Path, cell: Cell) -> bool:
    return path_of(results, cell).exists()


def write(results: Path, cell: Cell, points: list[dict[str, Any]], seconds: float, where: str) -> Path:
    """Write the cell's file in one rename: a file that exists is a finished cell."""
    from ida_cli.experiment.report import variant

    body = {
        "format": FORMAT,
        "key": cell.key,
        "task": cell.task,
        "strategy": cell.strategy,
        "seed": cell.seed,
        "variant": variant({"strategy": cell.strategy, **cell.flags}),
        "options": cell.flags,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "where": where,
        "points": [{k: _round(p.get(k)) for k in KEPT} for p in points],
    }
    path = path_of(results, cell)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(body, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CannotWrite(
            f"cannot write {path}: {e.strerror}; free the disk or choose another --results"
        ) from None
    return path


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def read(path: Path) -> list[dict[str, Any]]:
    """A results file's curve as `ida report` takes points (with the cell's task, strategy, seed,
    variant, and the file standing for the database)."""
    try:
        body = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError:
        raise UsageError(f"{path} is not a grid results file (not JSON)") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise UsageError(f"{path} is not a grid results file (written by `ida grid`)")
    meta = {
        "task": body["task"],
        "strategy": body["strategy"],
        "seed": body["seed"],
        "variant": body["variant"],
        "db": str(path),
        "experiment": body["key"],
    }
    return [{**p, **meta} for p in body["points"]]
