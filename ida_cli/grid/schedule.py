"""Which cell a grid starts next: the longest first, and none that would overrun `--hours`.

A cell's expected wall time comes from the finished cells in the results folder: the median over
the curve files of the same task and strategy (the same variant of it where there are some), and,
for a pair never run, the longest expectation of the grid or of its task's finished cells (of the
whole folder where the task has none). Starting the long cells first keeps
the last worker's tail short; a time limit then starts only the cells expected to end before it,
so a run cut off at a known hour (a batch job, a session) does not spend its last hour on cells it
cannot finish. A cell never run anywhere, in a grid with no history at all, has no expectation
and always starts."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.grid.spec import Cell


@dataclass(frozen=True)
class Past:
    """A finished cell's curve file, as far as scheduling reads it."""

    task: str
    strategy: str
    variant: str
    seconds: float


def history(results: Path) -> list[Past]:
    """The finished cells in a results folder; a file this cannot read is left out, not an error
    (`ida report` is where a broken curve file is named)."""
    out: list[Past] = []
    for path in sorted(results.glob("*.json")) if results.is_dir() else []:
        try:
            body = json.loads(path.read_text())
            seconds = _wall(body)
            if seconds is not None:
                out.append(Past(body["task"], body["strategy"], str(body.get("variant", "")), seconds))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def _wall(body: dict[str, Any]) -> float | None:
    # the curve's own wall time is the whole run's; the file's `seconds` is only the last
    # process's, short for a cell that was resumed
    points = body.get("points") or []
    walls = [p.get("wall_seconds") for p in points if isinstance(p.get("wall_seconds"), int | float)]
    if walls:
        return float(max(walls))
    seconds = body.get("seconds")
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None


def expected(cells: list[Cell], past: list[Past]) -> dict[str, float | None]:
    """Each cell's expected wall seconds, by its key."""
    from ida_cli.experiment.report import variant

    out: dict[str, float | None] = {}
    for cell in cells:
        mine = variant({"strategy": cell.strategy, **cell.flags})
        same = [p for p in past if (p.task, p.strategy) == (cell.task, cell.strategy)]
        alike = [p.seconds for p in same if p.variant == mine]
        out[cell.key] = statistics.median(alike or [p.seconds for p in same]) if same else None
    known = [s for s in out.values() if s is not None]
    everything = [p.seconds for p in past]
    for cell in cells:
        if out[cell.key] is None:
            # a slice of new pairs only (`--strategies none,random`) still has its task's history:
            # such a cell once started with no expectation at all, 40 minutes before a deadline
            task = [p.seconds for p in past if p.task == cell.task]
            pool = known + task or everything
            out[cell.key] = max(pool) if pool else None
    return out


def longest_first(cells: list[Cell], seconds: dict[str, float | None]) -> list[Cell]:
    """The cells by expected wall time, longest first; ties (and no history) in grid order."""
    return sorted(cells, key=lambda c: -(seconds.get(c.key) or 0.0))


def fits(expect: float | None, elapsed: float, limit: float | None) -> bool:
    """Whether a cell expected to take `expect` seconds, started now, ends within the limit."""
    return limit is None or expect is None or elapsed + expect <= limit


def check_hours(hours: float | None) -> None:
    if hours is not None and not hours > 0:
        raise UsageError(f"--hours {hours:g} is not a time limit: give hours above 0, e.g. --hours 2.5")
