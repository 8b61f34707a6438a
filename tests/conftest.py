from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ida_cli.cli import app

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: one torch thread each (and in the subprocesses the
    # tests start), or the workers' OpenMP threads spin against each other. Set before any test
    # imports torch, which reads OMP_NUM_THREADS once.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("IDA_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


Run = Callable[..., Result]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "p.duckdb"


@pytest.fixture
def ida(db: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the CLI in-process against a fresh database; returns code, stdout, stderr."""
    return in_process(str(db), monkeypatch)


def in_process(target: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The CLI run in-process with IDA_DB=target (a file path or a server URL)."""
    monkeypatch.setenv("IDA_DB", target)
    monkeypatch.delenv("IDA_TRACEBACK", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    runner = CliRunner()

    def run(*args: str) -> Result:
        r = runner.invoke(app, list(args), catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


def ida_subprocess(
    db: Path, *args: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "IDA_DB": str(db), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ida_cli", *args], text=True, capture_output=True, env=full_env, cwd=ROOT, **kw
    )


# -- a real PostgreSQL server for the tests of the PostgreSQL backend ------------------------------------
PG_PASSWORD = "ida-secret-pw"


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian puts it under /usr/lib/postgresql)."""
    import glob
    import shutil

    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 in a temporary folder (initdb refuses to run as
    root: as root the server runs as the `postgres` user). Password authentication (scram) for TCP."""

    def __init__(self, bindir: Path, port: int | None = None, fast: bool = True) -> None:
        import tempfile

        self.bindir, self.port, self.user, self.password = bindir, port or free_port(), "ida", PG_PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="ida-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.fast = fast
        self._n = 0
        self._as = self._runas()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            subprocess.run(["chown", "-R", self._as[2], str(self.root)], check=True)
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        self.start()

    @staticmethod
    def _runas() -> list[str]:
        if os.geteuid() != 0:
            return []
        import shutil

        user = "postgres"
        try:
            import pwd

            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        runuser = shutil.which("runuser")
        return [runuser, "-u", user, "--"] if runuser else ["su", user, "-s", "/bin/sh", "-c", "--"]

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self._as, str(self.bindir / tool), *args]
        r = subprocess.run(cmd, text=True, capture_output=True, cwd=self.root)
        if check and r.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}\n{log}")
        return r

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=400"
        if self.fast:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def psql(self, sql: str, db: str = "postgres") -> str:
        return self._run(
            "psql", "-h", str(self.root), "-p", str(self.port), "-U", self.user, "-d", db,
            "-v", "ON_ERROR_STOP=1", "-Atqc", sql,
        ).stdout  # fmt: skip

    def url(self, db: str, user: str | None = None, password: str | None = None) -> str:
        return (
            f"postgresql://{user or self.user}:{self.password if password is None else password}"
            f"@127.0.0.1:{self.port}/{db}"
        )

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        import shutil

        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


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
