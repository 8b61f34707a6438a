"""The only code that talks to DuckDB: opening a project file under a cross-process lock, running
migrations, and turning `duckdb.Error` into IdaError subclasses.

Every command opens the database for one short transaction at a time. Writers take an exclusive
`flock` on `<db>.lock` (readers a shared one) so that a second writer waits a few seconds and then
fails with the name and pid of the holder, instead of DuckDB's raw lock error."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ida_cli.errors import DatabaseBusy, NoDatabase, NotADatabase, SchemaTooNew, StoreError
from ida_cli.store.migrations import MIGRATIONS, SCHEMA_VERSION

DEFAULT_LOCK_TIMEOUT = 5.0


def now() -> datetime:
    return datetime.now()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, so a transaction is never cut between COMMIT and the
    caller learning that it committed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


@dataclass
class Store:
    path: Path
    command: str = "ida"

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        timeout = float(os.environ.get("IDA_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(
                f"cannot create the lock file {self.lock_path}: {e.strerror}; use --db in a writable folder"
            ) from None
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another ida"
                        raise DatabaseBusy(
                            f"database is in use by {holder}: wait for it to finish, or use another --db"
                        ) from None
                    time.sleep(0.05)
            if exclusive:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{self.command} (pid {os.getpid()})".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the descriptor drops the flock

    def _connect(self, read_only: bool) -> Any:
        import duckdb

        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as e:
            msg = str(e)
            if "not a valid DuckDB database" in msg:
                raise NotADatabase(
                    f"{self.path} is not an ida database (not a DuckDB file): pass --db with another path"
                ) from None
            if "Could not set lock" in msg:
                pid = msg.split("(PID ")[-1].split(")")[0] if "(PID " in msg else "?"
                raise DatabaseBusy(
                    f"database is in use by another program (pid {pid}): close it first"
                ) from None
            raise StoreError(f"cannot open {self.path}: {msg}") from None
        except duckdb.Error as e:
            raise StoreError(f"cannot open {self.path}: {e}") from None

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        """One transaction: everything in the block commits together or not at all."""
        import duckdb

        with deferred_interrupts(), self._lock(exclusive=True):
            con = self._connect(read_only=False)
            try:
                self._migrate(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            except duckdb.Error as e:
                raise StoreError(f"database error in {self.path}: {e}") from None
            finally:
                con.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        import duckdb

        if not self.path.exists():
            raise NoDatabase(f"no database at {self.path}: run `ida init` (or pass --db)")
        with self._lock(exclusive=False):
            con = self._connect(read_only=True)
            try:
                version = schema_version(con)
                if version > SCHEMA_VERSION:
                    raise _too_new(self.path, version)
                if version == SCHEMA_VERSION:
                    yield con
                    return
            except duckdb.Error as e:
                raise StoreError(f"database error in {self.path}: {e}") from None
            finally:
                con.close()
        # an older schema: upgrade once under the write lock, then read
        with self.write():
            pass
        with self.read() as con:
            yield con

    def _migrate(self, con: Any) -> None:
        version = schema_version(con)
        if version > SCHEMA_VERSION:
            raise _too_new(self.path, version)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN TRANSACTION")
            con.execute(MIGRATIONS[number - 1])
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, now()])
            con.execute("COMMIT")


def schema_version(con: Any) -> int:
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not has:
        tables = con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0]
        if tables:
            raise StoreError(
                "this DuckDB file is not an ida database (it has other tables): use another --db"
            )
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _too_new(path: Path, version: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"{path} has schema version {version}, newer than this ida knows ({SCHEMA_VERSION}): upgrade ida"
    )


def next_id(con: Any, table: str) -> int:
    """Ids are allocated under the write lock, so max+1 cannot race."""
    return int(con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])


def insert_frame(con: Any, table: str, frame: Any) -> None:
    """Bulk insert a polars frame through Arrow, by column name."""
    if frame.height == 0:
        return
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.register("_ida_frame", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ida_frame")
    finally:
        con.unregister("_ida_frame")
