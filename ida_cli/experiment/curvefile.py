"""An experiment's compact curve file: its options and its curve, a few KB of JSON. `ida grid`
writes one per finished cell under its results folder (committed, so a grid accumulates across
runs and machines); `ida report` reads them beside databases."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ida_cli.errors import CannotWrite, UsageError
from ida_cli.store.experiments import CURVE_FIELDS

FORMAT = "ida-grid-cell/1"
# what a curve point keeps: the store's curve fields but those the file holds once (task, strategy,
# seed) and the database's own ids (versions, round)
KEPT = tuple(
    f
    for f in CURVE_FIELDS
    if f not in ("task", "strategy", "seed", "agreement", "model_version", "adversary_version", "round_id")
)


def write(path: Path, run: dict[str, Any], points: list[dict[str, Any]], seconds: float, where: str) -> Path:
    """Write the file in one rename, so a file that exists is a finished run. `run`: its key,
    task, strategy, seed and options (every flag in effect)."""
    from ida_cli.experiment.report import variant

    body = {
        "format": FORMAT,
        **{k: run[k] for k in ("key", "task", "strategy", "seed")},
        "variant": variant({"strategy": run["strategy"], **run["options"]}),
        "options": run["options"],
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "where": where,
        "points": [{k: _round(p.get(k)) for k in KEPT} for p in points],
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(body, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CannotWrite(
            f"cannot write {path}: {e.strerror}; free the disk or choose another folder"
        ) from None
    return path


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


NEEDED = {"experiment", "task", "strategy", "seed", "cycle", "accuracy", "overseer_calls"}


def read(path: Path) -> list[dict[str, Any]]:
    """A curve file's points as `ida report` takes points (with the cell's task, strategy, seed,
    variant, and the file standing for the database); or the curve `ida experiment --json` wrote."""
    from ida_cli.experiment.report import variant

    try:
        body = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError:
        raise UsageError(f"{path} is not a curve file of `ida grid` (not JSON)") from None
    if isinstance(body, list) and body and all(isinstance(p, dict) and p.keys() >= NEEDED for p in body):
        # `ida experiment --json` saved to a file: its options are not in it, so its runs are told
        # apart by the file's name, less a "-seedN" of the run's own seed: NAME.json and
        # NAME-seed2.json are two seeds of one variant
        return [
            {**p, "variant": f"{p['strategy']} ({_name(path, p['seed'])})", "db": str(path)} for p in body
        ]
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise UsageError(f"{path} is not a curve file of `ida grid` or `ida experiment --json`")
    meta = {
        "task": body["task"],
        "strategy": body["strategy"],
        "seed": body["seed"],
        "variant": variant({"strategy": body["strategy"], **body["options"]}),  # today's labels
        "db": str(path),
        "experiment": body["key"],
    }
    return [{**p, **meta} for p in body["points"]]


def _name(path: Path, seed: Any) -> str:
    """A saved run's name: its file's, less a "-seedN" suffix of its own seed."""
    return re.sub(rf"-seed{seed}$", "", path.stem)
