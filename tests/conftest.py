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
    monkeypatch.setenv("IDA_DB", str(db))
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
