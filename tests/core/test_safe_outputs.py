"""Nothing lost: an output is never the project itself, an existing file is replaced only with
--force, and `-o -` writes to standard output (issue 21, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Run

EXPORTS = {
    "export": ["export", "--table", "questions", "--format", "csv"],
    "questions export": ["questions", "export", "--format", "csv"],
    "trees export": ["trees", "export", "1"],
}


def project(ida: Run) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "8", "--seed", "1")
    assert ida("round", "--questions", "2").code == 0


@pytest.mark.parametrize("command", sorted(EXPORTS))
@pytest.mark.parametrize("suffix", ["", ".lock", ".wal", ".checkpoints/model-v1.pt"])
def test_the_database_and_its_files_are_never_an_output(
    ida: Run, db: Path, command: str, suffix: str
) -> None:
    project(ida)
    target = Path(str(db) + suffix)
    target.parent.mkdir(exist_ok=True)
    before = db.read_bytes()
    r = ida(*EXPORTS[command], "-o", str(target), "--force")
    assert r.code == 2
    assert r.stderr.strip() == (
        f"error: refusing to write {target}: it belongs to the project database {db}; choose another -o"
    )
    assert db.read_bytes() == before and r.stdout == ""


@pytest.mark.parametrize("command", sorted(EXPORTS))
def test_an_existing_file_is_replaced_only_with_force(ida: Run, tmp_path: Path, command: str) -> None:
    project(ida)
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    r = ida(*EXPORTS[command], "-o", str(out))
    assert r.code == 2
    assert r.stderr.strip() == f"error: {out} exists: pass --force to replace it, or choose another -o"
    assert out.read_text() == "keep me"
    assert ida(*EXPORTS[command], "-o", str(out), "--force").code == 0
    assert out.read_text() != "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_dash_writes_to_stdout_and_the_summary_to_stderr(ida: Run) -> None:
    project(ida)
    r = ida("trees", "export", "1", "-o", "-")
    assert r.code == 0
    assert json.loads(r.stdout)["id"] == 1 and "tree 1" in r.stderr
    r = ida("questions", "export", "--format", "jsonl", "-o", "-")
    assert r.code == 0 and len(r.stdout.splitlines()) == 8
    r = ida("export", "--table", "trees", "--format", "csv", "-o", "-", "--json")
    assert r.code == 2
    assert r.stderr.strip() == "error: --json and -o - both write to standard output: use one of them"
