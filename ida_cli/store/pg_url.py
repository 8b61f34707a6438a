"""How ida names a PostgreSQL server and explains what went wrong with it: URLs (parsed, repaired
after pathlib, and printed only without their password) and the IdaError for a failed connection or
statement, from the server's own words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from ida_cli.errors import BadConnection, DatabaseBusy, DatabaseUnreachable, StoreError

SCHEMES = ("postgresql", "postgres")
FIX = "check the URL in --db or IDA_DB"

_URL = re.compile(r"^(postgres(?:ql)?):/+", re.IGNORECASE)


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


def repair(text: str) -> str:
    """A URL that went through pathlib (`postgresql:/u@h/db`) back to `postgresql://u@h/db`."""
    return _URL.sub(lambda m: m.group(1).lower() + "://", text, count=1)


@dataclass(frozen=True)
class PgUrl:
    url: str  # as given (with the password): only ever passed to the server
    user: str | None
    password: str | None
    host: str
    port: int
    dbname: str
    query: str

    @property
    def safe(self) -> str:
        """The URL without its password: the only form ida ever prints."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?{self.query}" if self.query else ""
        return f"postgresql://{user}{host}:{self.port}/{self.dbname}{query}"

    def redact(self, text: str) -> str:
        """`text` with the full URL replaced by the safe one and the password masked anywhere."""
        text = text.replace(self.url, self.safe)
        if self.password:
            text = text.replace(self.password, "***")
            encoded = quote(self.password, safe="")
            if encoded != self.password:
                text = text.replace(encoded, "***")
        return text


def parse(text: str) -> PgUrl:
    url = repair(text)
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as e:
        raise BadConnection(f"{_strip_password(url)} is not a usable PostgreSQL URL ({e}); {FIX}") from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise BadConnection(
            f"{_strip_password(url)} names no database: use postgresql://user:password@host:port/dbname "
            f"in --db or IDA_DB"
        )
    return PgUrl(
        url=url,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "localhost",
        port=port,
        dbname=dbname,
        query=parts.query,
    )


def _strip_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1@", url)


_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "no connection to the server",
    "connection to server",
    "could not receive data",
    "could not send data",
    "connection timed out",
    "timeout expired",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "ssl syscall",
    "broken pipe",
    "connection reset",
    "unable to connect to postgres",
    "not connected",
    "lost synchronization",
)
_BAD = (
    "password authentication failed",
    "does not exist",
    "no password supplied",
    "authentication failed",
    "could not translate host name",
    "name or service not known",
    "no pg_hba.conf entry",
    "permission denied",
    "invalid connection option",
    "invalid uri",
    "invalid integer value",
    "too many connections",
)


def _reason(message: str) -> str:
    """The server's (or libpq's) own words from a DuckDB error about a connection."""
    text = message.split("Error: ", 1)[-1]
    if "failed: " in text:
        text = text.split("failed: ", 1)[1]
    text = text.replace("FATAL:  ", "").replace("FATAL: ", "").replace("ERROR:  ", "")
    return " ".join(text.split()).rstrip(".")


def connect_error(url: PgUrl, error: Exception) -> Exception:
    """The IdaError for a failed ATTACH."""
    message = url.redact(str(error))
    lower = message.lower()
    reason = _reason(message)
    if any(k in lower for k in _BAD) and "connection refused" not in lower:
        return BadConnection(f"cannot connect to {url.safe}: {reason}; {FIX}")
    return DatabaseUnreachable(
        f"cannot reach {url.safe}: {reason}: start the server (or wait for it), or {FIX}"
    )


def query_error(url: PgUrl, error: Exception) -> Exception:
    """The IdaError for a failed statement."""
    message = url.redact(str(error))
    lower = message.lower()
    if "lock timeout" in lower or "canceling statement due to lock" in lower:
        return DatabaseBusy("database is in use by another ida: wait for it to finish, or use another --db")
    if any(k in lower for k in _UNREACHABLE):
        return DatabaseUnreachable(
            f"lost the connection to {url.safe}: {_reason(message)}: start the server (or wait for it)"
        )
    return StoreError(f"database error in {url.safe}: {message}")
