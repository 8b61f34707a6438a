"""init, tasks, status, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ida_cli.cli.common import (
    FORCE_OPTION,
    JSON_OPTION,
    check_json_output,
    console,
    emit_json,
    output_option,
    store,
    written,
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("tasks")(tasks)
    app.command("status")(status)
    app.command("export")(export)
    app.command("prune")(prune)


def init(
    ctx: typer.Context,
    task: str = typer.Option(None, "--task", help="Default task for later commands."),
    size: int = typer.Option(None, "--size", help="Default context size (8-64)."),
    seed: int = typer.Option(None, "--seed", help="Default seed."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create the database (idempotent; never clobbers labels)."""
    from ida_cli.project.status import init as core

    result = core(store(ctx, "init"), task, size, seed)
    if as_json:
        emit_json(result)
        return
    verb = "created" if result["created"] else "up to date"
    console().print(f"{result['db']}: {verb} (schema {result['schema_version']})")


def tasks(as_json: bool = JSON_OPTION) -> None:
    """List the built-in tasks."""
    from ida_cli.tasks import BUILTIN, USER, get_task

    rows: list[dict[str, Any]] = []
    for name in (*BUILTIN, USER):
        t = get_task(name)
        rows.append(
            {
                "name": name,
                "summary": t.summary,
                "sizes": [t.min_size, t.max_size] if t.has_expert else None,
                "scripted_expert": t.has_expert,
            }
        )
    if as_json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("task", "sizes", "expert", "what")
    for r in rows:
        sizes = f"{r['sizes'][0]}-{r['sizes'][1]}" if r["sizes"] else "-"
        table.add_row(r["name"], sizes, "scripted" if r["scripted_expert"] else "human", r["summary"])
    console().print(table)


def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Counts, versions, the latest metrics."""
    from ida_cli.cli.render import status_panel
    from ida_cli.project.status import status as core

    result = core(store(ctx, "status"))
    if as_json:
        emit_json(result)
        return
    console().print(status_panel(result))


def export(
    ctx: typer.Context,
    table: str = typer.Option(..., "--table", help="Table to export (see `ida status`)."),
    fmt: str = typer.Option("parquet", "--format", help="parquet, csv or jsonl."),
    output: Path = output_option(),
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Any stored table to parquet, csv or jsonl."""
    from ida_cli.project.status import export_table

    check_json_output(output, as_json)
    rows = export_table(store(ctx, "export"), table, fmt, output, force)
    written(
        output,
        as_json,
        {"table": table, "format": fmt, "path": str(output), "rows": rows},
        f"{rows} rows of {table} → {output}",
    )


def prune(
    ctx: typer.Context,
    keep: int = typer.Option(..., "--keep", help="Newest versions of each kind and task to keep."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; delete nothing."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete the checkpoint files of all but the newest model and adversary versions."""
    from ida_cli.learn.prune import prune as core

    result = core(store(ctx, "prune"), keep, dry_run)
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "would free" if dry_run else "freed"
    console().print(
        f"{len(result.pruned)} version(s) pruned{' (dry run)' if dry_run else ''}, {result.kept} kept; "
        f"{verb} {result.freed_bytes / 1e6:.1f} MB"
    )
