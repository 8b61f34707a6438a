"""`ida grid` starts the longest cells first and, with --hours, only those expected to end in
time; expectations come from the finished cells' curve files."""

from __future__ import annotations

import json
from pathlib import Path

from ida_cli.grid.schedule import expected, fits, history, longest_first
from ida_cli.grid.spec import Cell, build
from tests.core.test_grid import grid_args
from tests.helpers import Run


def finished(
    folder: Path, name: str, task: str, strategy: str, walls: list[float], variant: str = ""
) -> None:
    """A curve file as `ida grid` writes one, with only what scheduling reads."""
    folder.mkdir(parents=True, exist_ok=True)
    points = [{"cycle": i, "wall_seconds": w} for i, w in enumerate(walls)]
    body = {
        "task": task,
        "strategy": strategy,
        "seed": 9,
        "variant": variant,
        "seconds": 1.0,
        "points": points,
    }
    (folder / f"{name}.json").write_text(json.dumps(body))


def cell(task: str, strategy: str, seed: int = 1) -> Cell:
    return Cell(task, strategy, seed, {"size": 8})


def test_expectations_are_medians_of_the_same_task_and_strategy(tmp_path: Path) -> None:
    finished(tmp_path, "a", "unionfind", "adversary", [10.0, 1200.0])  # a run's whole wall time
    finished(tmp_path, "b", "unionfind", "adversary", [900.0])
    finished(tmp_path, "c", "unionfind", "adversary", [1500.0])
    finished(tmp_path, "d", "unionfind", "supervised", [240.0])
    (tmp_path / "broken.json").write_text("{not json")  # left out, not an error
    (tmp_path / "notes.txt").write_text("")
    past = history(tmp_path)
    assert sorted(p.seconds for p in past) == [240.0, 900.0, 1200.0, 1500.0]
    cells = [cell("unionfind", "supervised"), cell("unionfind", "adversary"), cell("wildcard", "full")]
    got = expected(cells, past)
    # a pair never run is expected to take as long as the longest of the grid
    assert [got[c.key] for c in cells] == [240.0, 1200.0, 1200.0]
    assert [c.strategy for c in longest_first(cells, got)] == ["adversary", "full", "supervised"]


def test_a_slice_of_new_pairs_expects_its_tasks_longest_cell(tmp_path: Path) -> None:
    finished(tmp_path, "a", "shortpath", "adversary", [2200.0])
    finished(tmp_path, "b", "shortpath", "supervised", [300.0])
    finished(tmp_path, "c", "assignments", "uncertainty", [2600.0])
    got = expected([cell("shortpath", "none"), cell("shortpath", "random")], history(tmp_path))
    assert set(got.values()) == {2200.0}
    # a task with no finished cell at all: the longest of the folder
    assert list(expected([cell("permutation", "none")], history(tmp_path)).values()) == [2600.0]


def test_the_same_variant_is_preferred_where_there_is_one(tmp_path: Path) -> None:
    from ida_cli.experiment.report import variant

    shared = Cell("wildcard", "adversary", 1, {"size": 8, "step_share": 0.5})
    finished(tmp_path, "a", "wildcard", "adversary", [600.0])
    finished(
        tmp_path, "b", "wildcard", "adversary", [300.0], variant({"strategy": "adversary", **shared.flags})
    )
    got = expected([shared, cell("wildcard", "adversary")], history(tmp_path))
    assert got[shared.key] == 300.0
    assert got[cell("wildcard", "adversary").key] == 450.0  # no variant of its own: every run's


def test_no_history_keeps_the_grid_order_and_starts_everything(tmp_path: Path) -> None:
    cells = build(None, ["wildcard", "permutation"], ["supervised", "full"], "1", []).cells()
    got = expected(cells, history(tmp_path / "none"))
    assert set(got.values()) == {None}
    assert longest_first(cells, got) == cells
    assert fits(None, 10_000.0, 1.0)
    assert fits(100.0, 50.0, 150.0) and not fits(100.0, 50.1, 150.0) and fits(1e9, 0.0, None)


def test_hours_defers_cells_expected_to_overrun(ida: Run, tmp_path: Path) -> None:
    finished(tmp_path / "res", "old", "wildcard", "supervised", [3600.0])
    r = ida(*grid_args(tmp_path, "--hours", "0.5", "--json"))
    assert r.code == 0, r.stderr
    assert [(row["seed"], row["status"]) for row in r.json()] == [(1, "deferred"), (2, "deferred")]
    assert r.stderr.splitlines()[-1] == (
        "2 of 2 cells deferred: not expected to end within --hours 0.5; rerun to run them"
    )
    assert (
        "[1/2] wildcard-supervised-seed1-" in r.stderr
        and ": deferred: expected to take 60 min, 30 min" in r.stderr
    )
    assert not list((tmp_path / "work").glob("*.duckdb"))  # nothing started
    dry = ida(*grid_args(tmp_path, "--dry-run", "--json")).json()
    assert [row["expected_minutes"] for row in dry] == [60.0, 60.0]


def test_bad_hours(ida: Run, tmp_path: Path) -> None:
    for value in ("0", "-1"):
        r = ida(*grid_args(tmp_path, "--hours", value))
        assert (r.code, r.stderr) == (
            2,
            f"error: --hours {float(value):g} is not a time limit: give hours above 0, e.g. --hours 2.5\n",
        )
    assert not (tmp_path / "res").exists()
