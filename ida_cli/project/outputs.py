"""Writing files safely: check the target before any work, write beside it, rename into place.

An output is never the project itself: the database, its lock and WAL files and its checkpoint
folder are refused whatever the flags. An existing file is replaced only with `--force`. `-o -`
writes to standard output."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ida_cli.errors import OutputError

if TYPE_CHECKING:
    from ida_cli.store import Store

FORMATS = ("parquet", "csv", "jsonl")
STDOUT = Path("-")


@dataclass(frozen=True)
class Protected:
    """What an output must never be: a project's files, and every file in its folders."""

    files: tuple[Path, ...] = ()
    folders: tuple[Path, ...] = ()
    name: str = ""

    @classmethod
    def of(cls, store: Store) -> Protected:
        path = store.path
        files = (path, store.lock_path, path.with_name(path.name + ".wal"))
        return cls(files, (path.with_name(path.name + ".checkpoints"),), store.display)


def is_stdout(path: Path) -> bool:
    return path == STDOUT


def check_output(path: Path, protected: Protected | None = None, force: bool = False) -> None:
    """Refuse an output that cannot or must not be written, before any work is done."""
    if is_stdout(path):
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(
            f"cannot write {path}: folder {folder} does not exist; create it or choose another -o"
        )
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable; choose another -o")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name with -o")
    if protected is not None:
        target = path.resolve()
        if any(target == f.resolve() for f in protected.files) or any(
            d.resolve() in target.parents for d in protected.folders
        ):
            raise OutputError(
                f"refusing to write {path}: it belongs to the project database {protected.name}; "
                "choose another -o"
            )
    if path.exists() and not force:
        raise OutputError(f"{path} exists: pass --force to replace it, or choose another -o")


@contextlib.contextmanager
def atomic_path(path: Path, protected: Protected | None = None, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename (for `-o -`,
    its bytes go to standard output)."""
    check_output(path, protected, force)
    if is_stdout(path):
        with tempfile.TemporaryDirectory(prefix="ida-out-") as folder:
            tmp = Path(folder) / "out"
            yield tmp
            sys.stdout.flush()
            with tmp.open("rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}; choose another -o") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_frame(
    frame: object, path: Path, fmt: str, protected: Protected | None = None, force: bool = False
) -> None:
    """Write a polars frame as parquet, csv or jsonl."""
    import polars as pl

    assert isinstance(frame, pl.DataFrame)
    if fmt not in FORMATS:
        raise OutputError(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
    with atomic_path(path, protected, force) as tmp:
        if fmt == "parquet":
            frame.write_parquet(tmp)
        elif fmt == "csv":
            frame.write_csv(tmp)
        else:
            frame.write_ndjson(tmp)
