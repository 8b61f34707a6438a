"""`ida status` and `ida export`: what is stored, and any table out to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.project.outputs import FORMATS, Protected, check_output, write_frame
from ida_cli.store import Store, summary
from ida_cli.store.migrations import SCHEMA_VERSION, TABLES


def status(store: Store) -> dict[str, Any]:
    with store.read() as con:
        found = summary.summary(con)
    return {"db": store.display, "schema_version": SCHEMA_VERSION, "bytes": store.size_bytes(), **found}


def export_table(store: Store, table: str, fmt: str, path: Path, force: bool = False) -> int:
    if table not in TABLES:
        raise UsageError(f"unknown table '{table}': use one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}': use --format parquet, csv or jsonl")
    protected = Protected.of(store)
    check_output(path, protected, force)
    with store.read() as con:
        frame = summary.table_frame(con, table)
    write_frame(frame, path, fmt, protected, force)
    return int(frame.height)


def init(store: Store, task: str | None, size: int | None, seed: int | None) -> dict[str, Any]:
    """Create or upgrade the database; record defaults. Never touches stored labels."""
    from ida_cli.store import records
    from ida_cli.tasks import get_task

    values: dict[str, str] = {}
    if task is not None:
        t = get_task(task)
        if size is not None and t.has_expert:
            t.check_size(size)
        values["task"] = task
    if size is not None:
        values["size"] = str(size)
    if seed is not None:
        values["seed"] = str(seed)
    existed = store.exists()
    with store.write() as con:
        records.put_settings(con, values)
        settings = records.get_settings(con)
    return {
        "db": store.display,
        "created": not existed,
        "schema_version": SCHEMA_VERSION,
        "settings": settings,
    }
