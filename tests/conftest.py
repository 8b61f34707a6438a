from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PgServer, Run, in_process, postgres_bindir

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: one torch thread each (and in the subprocesses the
    # tests start), or the workers' OpenMP threads spin against each other. Set before any test
    # imports torch, which reads OMP_NUM_THREADS once.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("IDA_THREADS", "1")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "p.duckdb"


@pytest.fixture
def ida(db: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the CLI in-process against a fresh database; returns code, stdout, stderr."""
    return in_process(str(db), monkeypatch)


@pytest.fixture(scope="session")
def pg_server() -> Any:
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries not found (no initdb under /usr/lib/postgresql/*/bin or on PATH): "
            "install them with `apt-get install postgresql` to run the PostgreSQL tests"
        )
    server = PgServer(bindir)
    try:
        yield server
    finally:
        from ida_cli.store import postgres

        postgres.close_all()
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh database on the session's server."""
    return pg_server.new_database()


@pytest.fixture
def pg_ida(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Like `ida`, against a fresh PostgreSQL database (through IDA_DB)."""
    return in_process(pg_url, monkeypatch)
