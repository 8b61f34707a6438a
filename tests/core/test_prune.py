"""`ida prune`: old versions' checkpoint files go, their rows stay, nothing tries to load them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.helpers import TINY, Run, in_process, setup


def test_prune_keeps_the_newest_versions_and_refuses_to_load_the_others(ida: Run, db: Path) -> None:
    setup(ida, count=60)
    for _ in range(3):
        assert ida("train", "model", "--supervised", *TINY).code == 0
    folder = db.with_name(db.name + ".checkpoints")
    assert sorted(p.name for p in folder.glob("model-v*.pt")) == ["model-v1.pt", "model-v2.pt", "model-v3.pt"]
    dry = ida("prune", "--keep", "1", "--dry-run", "--json").json()
    assert [(p["kind"], p["version"]) for p in dry["pruned"]] == [("model", 2), ("model", 1)]
    assert dry["freed_bytes"] > 0 and dry["kept"] == 1
    assert len(list(folder.glob("model-v*.pt"))) == 3  # a dry run deletes nothing
    done = ida("prune", "--keep", "1", "--json").json()
    assert done["freed_bytes"] == dry["freed_bytes"] and not done["dry_run"]
    assert sorted(p.name for p in folder.glob("model-v*.pt")) == ["model-v3.pt"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT version, status FROM versions ORDER BY version").fetchall() == [
            (1, "pruned"),
            (2, "pruned"),
            (3, "ready"),
        ]
    assert ida("eval", "--json").json()["model_version"] == 3
    r = ida("eval", "--version", "1")
    assert (r.code, r.stderr) == (
        2,
        "error: model v1's checkpoint was deleted by `ida prune`: use a kept version (see `ida status`) "
        "or retrain with `ida train model`\n",
    )
    assert ida("prune", "--keep", "1", "--json").json()["pruned"] == []
    r = ida("prune", "--keep", "0")
    assert (r.code, r.stderr) == (
        2,
        "error: --keep must be at least 1: the newest version of each kind is always kept\n",
    )
    r = ida("prune", "--keep", "1")
    assert r.code == 0 and "0 version(s) pruned, 1 kept; freed 0.0 MB" in r.stdout


def copy_project(src: Path, dst: Path) -> None:
    import shutil

    shutil.copy(src, dst)
    shutil.copytree(src.with_name(src.name + ".checkpoints"), dst.with_name(dst.name + ".checkpoints"))


def test_a_moved_or_copied_project_keeps_its_models_and_prunes_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints are recorded relative to the database (issue 21, item 2): a project run from
    another folder, moved or copied finds its models; pruning a copy never touches the original."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    ida = in_process("ida.duckdb", monkeypatch)  # the default: a path relative to the folder
    setup(ida, count=60)
    for _ in range(2):
        assert ida("train", "model", "--supervised", *TINY).code == 0
    orig = work / "ida.duckdb"
    original_files = sorted(p.name for p in (work / "ida.duckdb.checkpoints").iterdir())

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the same project from another folder
    assert in_process(str(orig), monkeypatch)("eval", "--json").json()["model_version"] == 2

    moved = tmp_path / "moved" / "p.duckdb"
    moved.parent.mkdir()
    copy_project(orig, moved)
    monkeypatch.chdir(work)  # from inside the original's folder, prune the copy
    copy = in_process(str(moved), monkeypatch)
    assert copy("eval", "--json").json()["model_version"] == 2
    assert copy("prune", "--keep", "1").code == 0
    assert sorted(p.name for p in (work / "ida.duckdb.checkpoints").iterdir()) == original_files
    assert not (moved.parent / "p.duckdb.checkpoints" / "model-v1.pt").exists()
    assert (moved.parent / "p.duckdb.checkpoints" / "model-v2.pt").exists()
    assert in_process("ida.duckdb", monkeypatch)("eval", "--version", "1", "--json").code == 0


def test_prune_leaves_a_file_whose_bytes_are_not_the_recorded_ones(ida: Run, db: Path) -> None:
    setup(ida, count=60)
    for _ in range(2):
        assert ida("train", "model", "--supervised", *TINY).code == 0
    old = db.with_name(db.name + ".checkpoints") / "model-v1.pt"
    old.write_bytes(b"something else, written since")
    assert ida("prune", "--keep", "1").code == 0
    assert old.read_bytes() == b"something else, written since"
