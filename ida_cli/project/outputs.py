"""Writing files safely: check the folder first, write beside the target, rename into place."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ida_cli.errors import OutputError

FORMATS = ("parquet", "csv", "jsonl")


def check_output(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(
            f"cannot write {path}: folder {folder} does not exist; create it or choose another -o"
        )
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable; choose another -o")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name with -o")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename."""
    check_output(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}; choose another -o") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_frame(frame: object, path: Path, fmt: str) -> None:
    """Write a polars frame as parquet, csv or jsonl."""
    import polars as pl

    assert isinstance(frame, pl.DataFrame)
    if fmt not in FORMATS:
        raise OutputError(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.write_parquet(tmp)
        elif fmt == "csv":
            frame.write_csv(tmp)
        else:
            frame.write_ndjson(tmp)
