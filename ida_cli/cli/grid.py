"""ida grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ida_cli.cli.common import JSON_OPTION, console, emit_json

RESULTS = Path("bench/results/grid")
WORK = Path("bench/out/grid")


def register(app: typer.Typer) -> None:
    app.command("grid")(grid)


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def grid(
    file: Path = typer.Argument(
        None, help="A grid file (TOML): tasks, strategies, seeds, [flags], [task.NAME], [strategy.NAME]."
    ),
    tasks: str = typer.Option(None, "--tasks", help="Comma-separated tasks, e.g. wildcard,permutation."),
    strategies: str = typer.Option(
        None, "--strategies", help="Comma-separated strategies of `ida experiment`, supervised included."
    ),
    seeds: str = typer.Option(None, "--seeds", help="Seeds: 1-5, or 1,3,7."),
    settings: list[str] = typer.Option(
        [],
        "--set",
        help="An experiment flag for every cell (per_round=160), one strategy (random:prime_rate=0.3) "
        "or one task (permutation:budget=60000).",
    ),
    results: Path = typer.Option(
        RESULTS, "--results", help="Where each finished cell's curve file goes (commit these)."
    ),
    work: Path = typer.Option(WORK, "--work", help="Where the cells' databases and logs go."),
    workers: int = typer.Option(1, "--workers", help="Cells run at once, each a process of its own."),
    threads: int = typer.Option(
        None, "--threads", help="Torch threads per cell (default: the cores shared among the workers)."
    ),
    ray: str = typer.Option(
        None,
        "--ray",
        help="Run the cells as tasks on the Ray cluster at this address (pip install 'ida[ray]').",
    ),
    hours: float = typer.Option(
        None,
        "--hours",
        help="Start only the cells expected to end within this many hours (by the finished cells' "
        "times); defer the rest to a later run.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the cells and which are finished; run none."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Tasks x strategies x seeds, each cell an `ida experiment`: resumable, a curve file per cell."""
    from ida_cli.grid.run import CellRun, run_grid
    from ida_cli.grid.schedule import check_hours, expected, history
    from ida_cli.grid.spec import build

    cells = build(file, _names(tasks), _names(strategies), seeds, settings).cells()
    check_hours(hours)
    if dry_run:
        expect = expected(cells, history(results))
        rows = [
            {
                "cell": c.key,
                "finished": c.path(results).exists(),
                "expected_minutes": None if expect[c.key] is None else round((expect[c.key] or 0) / 60, 1),
                "argv": " ".join(c.argv()),
            }
            for c in cells
        ]
        if as_json:
            emit_json(rows)
        else:
            for row in rows:
                about = "" if row["expected_minutes"] is None else f"  ~{row['expected_minutes']:.0f} min"
                console().print(
                    f"{'done' if row['finished'] else 'todo'}  {row['cell']}{about}  {row['argv']}",
                    soft_wrap=True,
                )
        return
    err = console(stderr=True)

    def on_event(phase: str, run: CellRun, done: int, total: int) -> None:
        if phase == "skipped":
            return
        if phase == "start":
            extra = f" (expected {run.expected / 60:.0f} min)" if run.expected is not None else ""
        elif phase == "deferred":
            extra = ""
        else:
            extra = f" in {run.seconds / 60:.1f} min"
        why = f": {run.message}" if run.message else ""
        err.print(f"[{done}/{total}] {run.cell.key}: {phase}{extra}{why}", soft_wrap=True)

    runs = run_grid(cells, results, work, workers, threads, ray, on_event, hours)
    summary = [_summary(r) for r in runs]
    if as_json:
        emit_json(summary)
    else:
        from ida_cli.cli.render import grid_table

        console().print(grid_table(summary))
    deferred = [r for r in runs if r.status == "deferred"]
    if deferred:
        err.print(
            f"{len(deferred)} of {len(runs)} cells deferred: not expected to end within --hours "
            f"{hours:g}; rerun to run them",
            soft_wrap=True,
        )
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        err.print(
            f"error: {len(failed)} of {len(runs)} cells failed (logs in {work}); rerun to retry them",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _summary(run: Any) -> dict[str, Any]:
    from ida_cli.experiment import curvefile
    from ida_cli.experiment.report import hc

    points = run.points or (curvefile.read(run.path) if run.path is not None else [])
    last = max(points, key=lambda p: p["cycle"]) if points else {}
    return {
        "cell": run.cell.key,
        "task": run.cell.task,
        "strategy": run.cell.strategy,
        "seed": run.cell.seed,
        "status": run.status,
        "final": last.get("accuracy"),
        "calls": last.get("overseer_calls"),
        "HC@0.95": hc(points, 0.95),
        # a cell finished before: its curve's own wall time
        "minutes": round((run.seconds or last.get("wall_seconds") or 0.0) / 60, 2),
        "file": str(run.path) if run.path else None,
        "message": run.message,
    }
