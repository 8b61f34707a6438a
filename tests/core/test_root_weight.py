"""`--root-weight N`: each amplified tree's root answer N times in the online learner's replay
(every other row once), and invisible in the committed grid keys at its default. Its bad input is
in test_online.py's table."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ida_cli.store.training_rows import Rows, training_rows
from tests.helpers import Run

FULL = [
    "--task",
    "wildcard",
    "--size",
    "8",
    "--strategy",
    "full",
    "--budget",
    "100000",
    "--per-round",
    "6",
    "--train-steps",
    "4",
    "--eval-questions",
    "8",
    "--seed",
    "5",
    "--max-cycles",
    "1",
]


def test_weighted_repeats_only_the_marked_roots() -> None:
    rows = Rows(
        [
            (1, "c1", "answer", "q", [], "a"),
            (1, "c1", "fan_out", "q", [], "s"),
            (2, "c2", "answer", "r", [], "b"),
        ],
        roots=[0, 2],
    )
    assert rows.weighted(1) is rows
    heavy = rows.weighted(3)
    assert len(heavy.items) == 7
    assert [it[3] for it in heavy.items].count("q") == 4  # the root thrice, its step once
    assert [it[3] for it in heavy.items].count("r") == 3
    assert rows.counts()["answer"] == 2  # the stored rows themselves are untouched
    assert Rows(rows.items).weighted(4).items == rows.items  # no roots marked: nothing to weigh


def test_the_replay_holds_each_root_answer_that_many_times(
    ida: Run, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = ida("experiment", *FULL, "--json")
    assert plain.code == 0, plain.stderr
    heavy_db = tmp_path / "heavy.duckdb"
    monkeypatch.setenv("IDA_DB", str(heavy_db))
    heavy = ida("experiment", *FULL, "--root-weight", "3", "--json")
    assert heavy.code == 0, heavy.stderr

    def examples(path: Path) -> tuple[int, int, int]:
        with duckdb.connect(str(path), read_only=True) as con:
            metrics = json.loads(
                con.execute("SELECT metrics FROM versions WHERE kind = 'model'").fetchone()[0]
            )
            roots = con.execute(
                """SELECT count(*) FROM nodes n JOIN trees t ON t.id = n.tree_id
                   WHERE n.parent_id IS NULL AND n.recursed AND n.answer <> '"?"'"""
            ).fetchone()[0]
            rows = training_rows(con, "wildcard", supervised=False)
        assert len(rows.roots) == roots > 0
        assert all(rows.items[i][2] == "answer" for i in rows.roots)
        return int(metrics["train_examples"]), roots, len(rows.items)

    (n_plain, roots, items), (n_heavy, roots_heavy, items_heavy) = examples(db), examples(heavy_db)
    # the same trees (full HCH's rounds do not read ML), two more copies of each root answer
    assert (roots_heavy, items_heavy) == (roots, items)
    assert n_plain == items and n_heavy == items + 2 * roots
    assert plain.json()[0]["overseer_calls"] == heavy.json()[0]["overseer_calls"]


def test_grid_keys_and_labels() -> None:
    from ida_cli.experiment.report import variant
    from ida_cli.grid.spec import Cell

    base = {"per_round": 160, "budget": 500}
    plain = Cell("unionfind", "full", 1, base)
    assert Cell("unionfind", "full", 1, {**base, "root_weight": 1}).key == plain.key
    assert Cell("unionfind", "full", 1, {**base, "root_weight": 4}).key != plain.key
    # supervised rows are all questions' answers: the weight changes nothing, nor the key
    sup = Cell("unionfind", "supervised", 1, base)
    assert Cell("unionfind", "supervised", 1, {**base, "root_weight": 4}).key == sup.key
    assert (
        variant({"strategy": "full", "schedule": "online", "step_share": None, "root_weight": 4})
        == "full (root=4)"
    )
    assert variant({"strategy": "full", "schedule": "online", "step_share": None, "root_weight": 1}) == "full"
    assert variant({"strategy": "supervised", "schedule": "online", "root_weight": 4}) == "supervised"
