"""`ida prune`: old versions' checkpoint files go, their rows stay, nothing tries to load them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.helpers import TINY, Run, setup


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
