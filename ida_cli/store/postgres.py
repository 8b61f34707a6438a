"""The PostgreSQL backend: the same SQL and migrations as the DuckDB file, run by DuckDB through its
postgres extension (`ATTACH '<url>' AS pg (TYPE postgres)` then `USE pg`).

The extension comes from the `duckdb-extension-postgres` wheel and is loaded from disk, never
downloaded. The wheel names its file `postgres.duckdb_extension`, but the binary's entry point is
`postgres_scanner_duckdb_cpp_init` and DuckDB derives the entry point from the file name, so the
file is linked (or copied) once as `postgres_scanner.duckdb_extension` in a cache folder.

What the extension passes through, and what it does not (checked against duckdb 1.5.5):
- plain tables of BIGINT/INTEGER/VARCHAR/DOUBLE/BOOLEAN/TIMESTAMP, PRIMARY KEY, CREATE INDEX,
  ALTER TABLE ADD COLUMN: yes (DOUBLE becomes float8). JSON values are VARCHAR text here anyway.
- INSERT OR REPLACE / ON CONFLICT: yes. UPDATE and DELETE: yes (through ctid). Bulk inserts of a
  registered Arrow table: yes (binary COPY).
- INSERT ... RETURNING, CREATE SEQUENCE, LIST/STRUCT/JSON column types: no. ida uses none of them:
  ids are max+1 under the writer lock, values are JSON text.
- Queries run in DuckDB, with simple column filters pushed down to PostgreSQL.

One process keeps one in-memory DuckDB database per URL with the server attached (its connection
pool reconnects after a server restart); every transaction takes a cursor of it. Writers serialize
on a transaction-level advisory lock (the flock of the file backend), so ids allocated as max+1
cannot race; action ids have a lock of their own, taken by every allocation of them, so that a
transaction that only appends a person's step can skip the writer lock. The attach uses READ
COMMITTED so that a writer that waited for a lock reads what the previous holder committed."""

from __future__ import annotations

import re
import socket
import threading
from typing import Any
from urllib.parse import quote

from ida_cli.errors import DatabaseBusy, StoreError
from ida_cli.store.pg_extension import extension_file
from ida_cli.store.pg_url import PgUrl, connect_error, query_error

# pg_advisory_xact_lock key of the writer lock (below 2**32: pg_locks shows it as objid)
LOCK_KEY = 0x1DA5_7012
# the lock on allocating action ids: a person's step appends an action without the writer lock
ACTION_IDS_KEY = 0x1DA5_7013
CATALOG = "pg"


# -- connections ---------------------------------------------------------------------------------------
class PgConnection:
    """A DuckDB connection whose default catalog is the server; it behaves as the DuckDB connection
    it wraps (`execute` returns that connection, so `.fetchall()`, `.pl()` chain as usual) and says
    which backend it talks to, for the few statements that are better run by the server itself."""

    backend = "postgres"

    def __init__(self, con: Any) -> None:
        self._con = con
        self.lock_timeout = 5.0  # seconds to wait for a lock (the store sets IDA_LOCK_TIMEOUT)

    def lock_action_ids(self) -> None:
        """Inside a transaction: wait for the action-id lock (allocating action ids happens under
        it, in the writer lock's transactions and in a person's step alike)."""
        ms = max(int(self.lock_timeout * 1000), 1)
        self.server_execute(f"SET LOCAL lock_timeout = {ms}; SELECT pg_advisory_xact_lock({ACTION_IDS_KEY})")

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._con.execute(*args, **kwargs)

    def server_value(self, sql: str) -> Any:
        """The first value of `sql` run by PostgreSQL itself, in this connection's transaction."""
        row = self._con.execute(f"SELECT * FROM postgres_query('{CATALOG}', '{_sql_string(sql)}')").fetchone()
        return None if row is None else row[0]

    def server_execute(self, sql: str) -> None:
        """Run `sql` (PostgreSQL's dialect, no parameters) on the server in this transaction."""
        self._con.execute(f"CALL postgres_execute('{CATALOG}', '{_sql_string(sql)}')")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def literal(value: Any) -> str:
    """`value` as a PostgreSQL literal (strings under standard_conforming_strings)."""
    import datetime as dt
    import math

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::float8"
        if math.isinf(value):
            return "'Infinity'::float8" if value > 0 else "'-Infinity'::float8"
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'::timestamp"
    if isinstance(value, str):
        if "\x00" in value:
            raise StoreError("a text value holds a NUL character, which PostgreSQL cannot store")
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no PostgreSQL literal for {type(value).__name__}")


class PgDatabase:
    """One in-memory DuckDB database with the server attached as `pg`, shared by a process."""

    def __init__(self, url: PgUrl) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._db: Any = None
        self.migrated = False  # this process has seen the schema at the current version

    def _open(self, application: str) -> Any:
        import duckdb

        path = extension_file()
        db = duckdb.connect(
            ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        try:
            db.execute(f"LOAD '{_sql_string(str(path))}'")
        except duckdb.Error as e:
            db.close()
            raise StoreError(f"cannot load the postgres extension from {path}: {e}") from None
        target = _with_param(self.url.url, "application_name", application)
        try:
            db.execute(
                f"ATTACH '{_sql_string(target)}' AS {CATALOG} "
                "(TYPE postgres, ISOLATION_LEVEL 'READ COMMITTED')"
            )
        except duckdb.Error as e:
            db.close()
            raise connect_error(self.url, e) from None
        return db

    def cursor(self, application: str) -> PgConnection:
        """A new DuckDB connection to the shared database, with `pg` as its default catalog."""
        import duckdb

        with self._lock:
            if self._db is None:
                self._db = self._open(application)
            cur = self._db.cursor()
        try:
            cur.execute(f"USE {CATALOG}")
        except duckdb.Error as e:
            cur.close()
            raise query_error(self.url, e) from None
        return PgConnection(cur)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                try:
                    self._db.close()
                finally:
                    self._db = None
                    self.migrated = False


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def _with_param(url: str, key: str, value: str) -> str:
    if re.search(rf"[?&]{key}=", url):
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{key}={quote(value, safe='')}"


_DATABASES: dict[str, PgDatabase] = {}
_DATABASES_LOCK = threading.Lock()


def database(url: PgUrl) -> PgDatabase:
    with _DATABASES_LOCK:
        db = _DATABASES.get(url.url)
        if db is None:
            db = _DATABASES[url.url] = PgDatabase(url)
        return db


def close_all() -> None:
    """Drop every cached connection of this process (tests, and after a fork)."""
    with _DATABASES_LOCK:
        dbs = list(_DATABASES.values())
        _DATABASES.clear()
    for db in dbs:
        db.close()


def hostname() -> str:
    return socket.gethostname()


# -- locking -------------------------------------------------------------------------------------------
def lock_writer(con: Any, url: PgUrl, timeout: float) -> None:
    """Inside an open transaction: wait up to `timeout` seconds for the writer lock (released at
    COMMIT or ROLLBACK, or when the connection dies with its process)."""
    import duckdb

    ms = max(int(timeout * 1000), 1)
    try:
        con.execute(
            f"CALL postgres_execute('{CATALOG}', "
            f"'SET LOCAL lock_timeout = {ms}; SELECT pg_advisory_xact_lock({LOCK_KEY})')"
        )
    except duckdb.Error as e:
        err = query_error(url, e)
        if isinstance(err, DatabaseBusy):
            holder = _lock_holder(url)
            raise DatabaseBusy(
                f"database is in use by {holder or 'another ida'}: wait for it to finish, or use another --db"
            ) from None
        raise err from None


def _lock_holder(url: PgUrl) -> str | None:
    """The application name of the connection holding the writer lock, if it can be read."""
    import duckdb

    try:
        cur = database(url).cursor("ida")
    except Exception:
        return None
    try:
        row = cur.execute(
            f"""SELECT * FROM postgres_query('{CATALOG}', 'SELECT a.application_name FROM pg_locks l
                JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = ''advisory''
                AND l.objid = {LOCK_KEY} AND l.granted LIMIT 1')"""
        ).fetchone()
        return str(row[0]) if row and row[0] else None
    except duckdb.Error:
        return None
    finally:
        cur.close()


def clear_cache(con: Any) -> None:
    """Forget the attached catalog's cached tables (another process may have migrated)."""
    con.execute("CALL pg_clear_cache()")


def size_bytes(con: PgConnection) -> int:
    return int(con.server_value("SELECT pg_database_size(current_database())"))
