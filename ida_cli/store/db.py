"""The only code that talks to DuckDB: opening a project database, running migrations, and turning
`duckdb.Error` into IdaError subclasses.

Two backends run the same SQL and the same migrations. A DuckDB file (`--db PATH`): every command
opens it for one short transaction at a time; writers take an exclusive `flock` on `<db>.lock`
(readers a shared one) so that a second writer waits a few seconds and then fails with the name and
pid of the holder, instead of DuckDB's raw lock error. A PostgreSQL server
(`--db postgresql://user:pass@host:port/dbname`, see store/postgres.py): DuckDB attaches it; writers
serialize on a transaction-level advisory lock instead of the flock, readers take no lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ida_cli.checks import env_seconds
from ida_cli.errors import DatabaseBusy, NoDatabase, NotADatabase, SchemaTooNew, StoreError, UsageError
from ida_cli.store import pg_url, postgres
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


def _holder(text: str) -> str:
    """Who holds the lock, from what its writer recorded: "ida round (pid 123)" while that process
    lives, else another ida process (a reader records nothing)."""
    match = re.search(r"\(pid (\d+)\)$", text)
    if match:
        try:
            os.kill(int(match.group(1)), 0)
            return text
        except ProcessLookupError:
            pass
        except PermissionError:  # alive, another user's
            return text
    return "another ida process"


def lock_timeout() -> float:
    return env_seconds("IDA_LOCK_TIMEOUT", os.environ.get("IDA_LOCK_TIMEOUT", str(DEFAULT_LOCK_TIMEOUT)))


class Store:
    """A project database: a DuckDB file, or a PostgreSQL server given by URL."""

    def __init__(self, db: str | Path, command: str = "ida") -> None:
        self.command = command
        text = str(db)
        if not text.strip():
            raise UsageError("--db is empty: give a database file or a postgresql:// URL (or unset IDA_DB)")
        self.pg: pg_url.PgUrl | None = pg_url.parse(text) if pg_url.is_url(text) else None
        if self.pg is None:
            self.path = Path(db)
        else:
            # files that live beside a database file (model checkpoints) live in the working folder
            name = re.sub(r"[^A-Za-z0-9._-]", "_", f"ida-{self.pg.host}-{self.pg.port}-{self.pg.dbname}")
            self.path = Path.cwd() / name

    def __repr__(self) -> str:
        return f"Store({self.display!r})"

    @property
    def display(self) -> str:
        """How the database is named in messages: the path, or the URL without its password."""
        return self.pg.safe if self.pg is not None else str(self.path)

    @property
    def is_postgres(self) -> bool:
        return self.pg is not None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        """The file exists; on a server, the database holds ida's tables (raises when it cannot connect)."""
        if self.pg is None:
            return self.path.exists()
        import duckdb

        con = postgres.database(self.pg).cursor(self.command)
        try:
            return schema_version(con, self.display) > 0
        except duckdb.Error as e:
            raise pg_url.query_error(self.pg, e) from None
        finally:
            con.close()

    def size_bytes(self) -> int:
        if self.pg is None:
            return self.path.stat().st_size
        import duckdb

        con = postgres.database(self.pg).cursor(self.command)
        try:
            return postgres.size_bytes(con)
        except duckdb.Error as e:
            raise pg_url.query_error(self.pg, e) from None
        finally:
            con.close()

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        timeout = lock_timeout()
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
                        holder = _holder(os.pread(fd, 200, 0).decode(errors="replace").strip())
                        raise DatabaseBusy(
                            f"database is in use by {holder}: wait for it to finish, or use another --db"
                        ) from None
                    time.sleep(0.05)
            if exclusive:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{self.command} (pid {os.getpid()})".encode(), 0)
            try:
                yield
            finally:
                if exclusive:  # the name goes with the lock: a later wait never names a gone writer
                    os.ftruncate(fd, 0)
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
    def write(self, writer_lock: bool = True) -> Iterator[Any]:
        """One transaction: everything in the block commits together or not at all.

        writer_lock=False (PostgreSQL; a DuckDB file always takes its lock) is for a transaction that
        only appends actions and reads: it allocates their ids under the action-id lock alone, so a
        person's step does not queue behind other annotators' claims and finished trees."""
        if self.pg is not None:
            with self._pg_write(writer_lock) as con:
                yield con
            return
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
        if self.pg is not None:
            with self._pg_read() as con:
                yield con
            return
        import duckdb

        if not self.path.exists():
            raise NoDatabase(f"no database at {self.path}: run `ida init` (or pass --db)")
        with self._lock(exclusive=False):
            con = self._connect(read_only=True)
            try:
                version = schema_version(con, self.display)
                if version > SCHEMA_VERSION:
                    raise _too_new(self.display, version)
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
        version = schema_version(con, self.display)
        if version > SCHEMA_VERSION:
            raise _too_new(self.display, version)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN TRANSACTION")
            con.execute(MIGRATIONS[number - 1])
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, now()])
            con.execute("COMMIT")

    # -- PostgreSQL -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _pg_write(self, writer_lock: bool = True) -> Iterator[Any]:
        import duckdb

        assert self.pg is not None
        url, timeout = self.pg, lock_timeout()
        db = postgres.database(url)
        with deferred_interrupts():
            con = db.cursor(self.command)
            con.lock_timeout = timeout
            try:
                if not db.migrated:
                    self._pg_migrate(con, timeout)
                    db.migrated = True
                con.execute("BEGIN TRANSACTION")
                try:
                    if writer_lock:
                        postgres.lock_writer(con, url, timeout)
                    yield con
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            except duckdb.Error as e:
                raise pg_url.query_error(url, e) from None
            finally:
                con.close()

    def _pg_migrate(self, con: Any, timeout: float) -> None:
        """All missing migrations in one transaction (PostgreSQL's DDL is transactional) under the
        writer lock, after re-reading the catalog: another process may have just migrated."""
        import duckdb

        assert self.pg is not None
        version = schema_version(con, self.display)
        if version > SCHEMA_VERSION:
            raise _too_new(self.display, version)
        if version == SCHEMA_VERSION:
            return
        con.execute("BEGIN TRANSACTION")
        try:
            postgres.lock_writer(con, self.pg, timeout)
            postgres.clear_cache(con)
            version = schema_version(con, self.display)
            if version > SCHEMA_VERSION:
                raise _too_new(self.display, version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                con.execute(MIGRATIONS[number - 1])
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, now()])
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextlib.contextmanager
    def _pg_read(self) -> Iterator[Any]:
        import duckdb

        assert self.pg is not None
        url = self.pg
        db = postgres.database(url)
        con = db.cursor(self.command)
        try:
            if not db.migrated:
                version = schema_version(con, self.display)
                if version == 0:
                    raise NoDatabase(f"no ida database at {self.display}: run `ida init` (or pass --db)")
                if version > SCHEMA_VERSION:
                    raise _too_new(self.display, version)
                if version < SCHEMA_VERSION:
                    with self.write():  # an older schema: upgrade once under the writer lock
                        pass
                db.migrated = True
            yield con
        except duckdb.Error as e:
            raise pg_url.query_error(url, e) from None
        finally:
            con.close()


def schema_version(con: Any, name: str = "this database") -> int:
    """The database's schema version; 0 for a blank one. Only the current catalog and schema count
    (a PostgreSQL database shows its system catalogs too)."""
    here = "table_catalog = current_database() AND table_schema = current_schema()"
    has = con.execute(
        f"SELECT count(*) FROM information_schema.tables WHERE {here} AND table_name = 'schema_version'"
    ).fetchone()[0]
    if not has:
        tables = con.execute(f"SELECT count(*) FROM information_schema.tables WHERE {here}").fetchone()[0]
        if tables:
            raise StoreError(f"{name} is not an ida database (it has other tables): use another --db")
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _too_new(name: str, version: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"{name} has schema version {version}, newer than this ida knows ({SCHEMA_VERSION}): upgrade ida"
    )


def next_id(con: Any, table: str) -> int:
    """Ids are allocated under the write lock, so max+1 cannot race. On PostgreSQL the server
    computes it from the primary key's index (through DuckDB it would fetch every id)."""
    sql = f"SELECT coalesce(max(id), 0) + 1 FROM {table}"
    if getattr(con, "backend", None) == "postgres":
        if table == "actions":  # also appended outside the writer lock (a person's step): its own lock
            con.lock_action_ids()
        return int(con.server_value(sql))
    return int(con.execute(sql).fetchone()[0])


def insert_row(con: Any, table: str, row: dict[str, Any]) -> None:
    """Insert one row. On PostgreSQL the server runs the INSERT itself: through DuckDB a single row
    is a binary COPY of its own, several times slower (this is the path of every person's step)."""
    cols = ", ".join(row)
    if getattr(con, "backend", None) == "postgres":
        values = ", ".join(postgres.literal(v) for v in row.values())
        con.server_execute(
            f"SET LOCAL standard_conforming_strings = on; INSERT INTO {table} ({cols}) VALUES ({values})"
        )
        return
    con.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))


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
