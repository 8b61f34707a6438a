"""The replay cache's later reads take only the trees stored since the last one, and still give
exactly the rows of a read from scratch; where the past changed (a tree gone, a node or step added
under an old tree), they read everything again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from ida_cli.learn.data import ReplayCache
from ida_cli.store import training_rows
from tests.core.test_replay_cache import full_round, read_rows
from tests.helpers import Run, generate


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The node id each `_read_after` call starts above (0: a read of everything)."""
    starts: list[int] = []
    real = training_rows._read_after

    def spy(con: Any, task: str, cache: Any, seen: Any) -> Any:
        starts.append(seen.node_id if seen is not None else 0)
        return real(con, task, cache, seen)

    monkeypatch.setattr(training_rows, "_read_after", spy)
    return starts


def _max_id(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(f"SELECT max(id) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def test_later_reads_take_only_the_new_trees(ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(ida, 24, 1)
    full_round(ida, 6)
    starts = _spy(monkeypatch)
    cache = ReplayCache()
    first = read_rows(db, False, cache)
    assert starts == [0] and first == read_rows(db, False, None)
    for _ in range(2):
        top = _max_id(db, "nodes")
        full_round(ida, 6)
        starts.clear()
        cached = read_rows(db, False, cache)
        assert starts == [top]  # only the nodes above the last read's
        fresh = read_rows(db, False, None)
        assert cached == fresh and cached.roots == fresh.roots and len(cached.roots) > len(first.roots)
    starts.clear()
    assert read_rows(db, False, cache) == read_rows(db, False, None) and starts == [_max_id(db, "nodes"), 0]


def test_nothing_new_reads_nothing(ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(ida, 8, 1)
    full_round(ida, 4)
    cache = ReplayCache()
    first = read_rows(db, False, cache)
    starts = _spy(monkeypatch)
    assert read_rows(db, False, cache) == first and starts == [_max_id(db, "nodes")]


@pytest.mark.parametrize(
    "change",
    [
        # a tree gone from before the last read
        "DELETE FROM actions WHERE tree_id = 1; DELETE FROM nodes WHERE tree_id = 1; "
        "DELETE FROM trees WHERE id = 1",
        # a node added under an old node, with an id above every other
        "INSERT INTO nodes SELECT * REPLACE (id + 100000 AS id) FROM nodes "
        "WHERE parent_id IS NOT NULL LIMIT 1",
        # an overseer's step on an old node, stored after the last read
        "INSERT INTO actions SELECT * REPLACE (id + 100000 AS id) FROM actions "
        "WHERE actor <> 'model' LIMIT 1",
        # an old step whose tree is set only now (a person's step is linked when its tree is stored)
        "UPDATE actions SET tree_id = NULL WHERE id = (SELECT min(id) FROM actions WHERE actor <> 'model')",
    ],
    ids=["tree-deleted", "node-under-old", "step-on-old", "step-unlinked"],
)
def test_a_changed_past_is_read_again(
    ida: Run, db: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(ida, 16, 1)
    full_round(ida, 4)
    cache = ReplayCache()
    before = read_rows(db, False, cache)
    full_round(ida, 4)
    with duckdb.connect(str(db)) as con:
        con.execute(change)
    starts = _spy(monkeypatch)
    cached = read_rows(db, False, cache)
    assert starts[-1] == 0  # the past was read again
    fresh = read_rows(db, False, None)
    assert cached == fresh and cached.roots == fresh.roots and cached != before


def test_set_data_with_the_cache_equals_one_without(ida: Run, db: Path) -> None:
    from ida_cli.learn.continual import Learner, LearnerConfig
    from ida_cli.learn.runner import to_examples

    generate(ida, 24, 1)
    full_round(ida, 6)
    cache = ReplayCache()
    first = read_rows(db, False, cache)
    _, vocab = to_examples("permutation", first, None)
    learner = Learner.fresh("permutation", vocab, LearnerConfig(seed=3))
    learner.set_data(first.weighted(4), cache)
    assert learner.max_out and cache.longest
    full_round(ida, 6)
    grown = read_rows(db, False, cache)
    # no longest targets carried in the state: the warm learner's come from the cache alone
    state = {**learner.state(), "max_out": {}}
    warm, cold = Learner.from_state(state), Learner.from_state(state)
    warm.set_data(grown.weighted(4).plus([first.items[0]]), cache)  # a keyless row too
    cold.set_data(read_rows(db, False, None).weighted(4).plus([first.items[0]]))
    assert warm.seqs == cold.seqs and warm.lengths == cold.lengths and warm.max_out == cold.max_out
    assert warm.examples == cold.examples


def test_equal_parts_of_rows_are_one_object(ida: Run, db: Path) -> None:
    """What a replay of millions keeps per row: its step, a fan-in's (subquestion, answer) pairs and
    its kind are the one copy the read made first, not one per row."""
    generate(ida, 16, 1)
    full_round(ida, 4)
    cache = ReplayCache()
    read_rows(db, False, cache)
    full_round(ida, 4)
    rows = read_rows(db, False, cache)
    steps = [it for it in rows.items if it[2] != "answer"]
    fan_ins = [it for it in steps if it[4]]
    assert fan_ins and len(steps) > len(cache.rows.steps)
    made = {id(step) for step in cache.rows.steps.values()}
    assert all(id(it[5]) in made for it in steps)
    parsed = {id(text[5]) for text in cache.rows.texts.values()}
    assert all(id(pair) in parsed for it in fan_ins for pair in it[4])
    assert len({id(it[2]) for it in steps}) == len({it[2] for it in steps})
