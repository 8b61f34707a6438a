"""`ida grid` and `ida report` over its results files: cells from flags and files, bad grids named
before anything starts, a finished cell skipped, one `ida grid` per results folder, and the
report's bootstrap intervals and ratios."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from ida_cli.errors import UsageError
from ida_cli.experiment.report import ratios
from ida_cli.experiment.stats import mean_interval, ratio_interval
from ida_cli.grid.spec import build, seeds
from tests.helpers import Run

TINY = [
    "--set",
    "per_round=8",
    "--set",
    "budget=16",
    "--set",
    "max_cycles=1",
    "--set",
    "train_steps=3",
    "--set",
    "eval_questions=8",
]


def grid_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "grid",
        "--tasks",
        "wildcard",
        "--strategies",
        "supervised",
        "--seeds",
        "1-2",
        *TINY,
        "--results",
        str(tmp_path / "res"),
        "--work",
        str(tmp_path / "work"),
        *extra,
    ]


def test_a_grid_runs_its_cells_once_and_report_reads_their_files(ida: Run, tmp_path: Path) -> None:
    r = ida(*grid_args(tmp_path, "--workers", "2", "--json"))
    assert r.code == 0, r.stderr
    rows = r.json()
    assert [(row["seed"], row["status"]) for row in rows] == [(1, "finished"), (2, "finished")]
    files = sorted((tmp_path / "res").glob("*.json"))
    assert [f.name for f in files] == [Path(row["file"]).name for row in rows]
    body = json.loads(files[0].read_text())
    assert body["format"] == "ida-grid-cell/1" and body["options"]["per_round"] == 8
    assert body["points"] and body["points"][0]["labelled"] == 8
    assert len(files[0].read_text()) < 4000  # compact enough to commit
    stamps = [f.stat().st_mtime_ns for f in files]
    # the same grid again: every cell is finished, none runs
    again = ida(*grid_args(tmp_path, "--json"))
    assert again.code == 0, again.stderr
    assert [row["status"] for row in again.json()] == ["skipped", "skipped"]
    assert [f.stat().st_mtime_ns for f in files] == stamps
    # other flags are other cells
    dry = ida(*grid_args(tmp_path, "--set", "eval_questions=9", "--dry-run", "--json")).json()
    assert [row["finished"] for row in dry] == [False, False]
    rep = ida("report", str(tmp_path / "res"), "--json")
    assert rep.code == 0, rep.stderr
    [row] = rep.json()["summary"]
    assert (row["task"], row["strategy"], row["runs"]) == ("wildcard", "supervised", 2)
    assert row["final"]["low"] <= row["final"]["mean"] <= row["final"]["high"]
    # HC at the accuracies asked for, in order, instead of 0.9/0.95/0.99
    at = ida("report", str(tmp_path / "res"), "--level", "0.7", "--level", "0.05", "--json")
    assert at.code == 0, at.stderr
    [row] = at.json()["summary"]
    assert [k for k in row if k.startswith("HC@")] == ["HC@0.05", "HC@0.7"]
    assert row["HC@0.05"]["reached"].endswith("/2")
    bad = ida("report", str(tmp_path / "res"), "--level", "0")
    message = "error: --level 0 is not an accuracy: give one in (0, 1], e.g. --level 0.7\n"
    assert (bad.code, bad.stderr) == (2, message)


def test_bad_grids_are_named_before_anything_starts(ida: Run, tmp_path: Path) -> None:
    cases = [
        (["--tasks", "wildcrd"], "error: grid cell wildcrd supervised seed 1: unknown task 'wildcrd'"),
        (
            ["--strategies", "supervised,adversery"],
            "error: grid cell wildcard adversery seed 1: unknown strategy 'adversery'",
        ),
        (["--set", "per_rounds=3"], "error: --set per_rounds=3: unknown experiment flag 'per_rounds'"),
        (["--set", "per_round=x"], "error: --set per_round=x: per_round must be int, not 'x'"),
        (["--set", "seed=3"], "error: --set seed=3: seed is an axis of the grid, not a flag: use --seeds"),
        (
            ["--set", "per_round"],
            "error: --set 'per_round': use KEY=VALUE, STRATEGY:KEY=VALUE or TASK:KEY=VALUE",
        ),
        (
            ["--set", "unionfind:per_round=9"],
            "error: flags for task 'unionfind', which the grid does not run",
        ),
        (["--set", "random:p=0.3"], "error: flags for strategy 'random', which the grid does not run"),
        (["--seeds", "1-x"], "error: --seeds: '1-x' is not a seed or a range like 1-5"),
    ]
    for extra, message in cases:
        args = grid_args(tmp_path)
        for flag, value in zip(extra[::2], extra[1::2], strict=True):
            if flag in args and flag != "--set":
                args[args.index(flag) + 1] = value
            else:
                args += [flag, value]
        r = ida(*args)
        assert r.code == 2 and r.stderr.startswith(message), (extra, r.stderr)
        assert r.stderr.count("\n") == 1
    assert not (tmp_path / "res").exists() and not (tmp_path / "work").exists()


def test_a_grid_file_and_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(
        'tasks = ["wildcard"]\nstrategies = ["adversary", "random"]\nseeds = "1-3"\n'
        "[flags]\nper_round = 160\nuntil = 0.95\n"
        "[strategy.adversary]\nconfidence = -0.15\ntemperature = 0.05\n"
        "[strategy.random]\nprime_rate = 0.5\n"
    )
    spec = build(path, None, None, None, ["per_round=80", "adversary:confidence=-0.2"])
    cells = spec.cells()
    assert [(c.strategy, c.seed) for c in cells[:3]] == [("adversary", 1), ("random", 1), ("adversary", 2)]
    adv, rnd = cells[0], cells[1]
    assert adv.flags["per_round"] == 80 and adv.flags["confidence"] == -0.2 and adv.flags["until"] == 0.95
    assert rnd.flags["prime_rate"] == 0.5 and rnd.flags["confidence"] is None
    assert "--confidence -0.2" in " ".join(adv.argv()) and "--prime-rate 0.5" in " ".join(rnd.argv())
    assert len({c.key for c in cells}) == 6
    # the command line narrows the file's axes to the same cells
    narrow = build(path, None, ["random"], "2", ["per_round=80", "adversary:confidence=-0.2"])
    with pytest.raises(UsageError, match="flags for strategy 'adversary', which the grid does not run"):
        narrow.cells()
    narrow = build(path, None, ["random"], "2", ["per_round=80"]).cells()
    assert [c.key for c in narrow] == [c.key for c in cells if c.strategy == "random" and c.seed == 2]
    path.write_text('tasks = ["wildcard"]\nstrategy = 3\nsteps = 1\n')
    with pytest.raises(UsageError, match="unknown key 'steps'"):
        build(path, None, None, None, [])
    path.write_text("tasks = [")
    with pytest.raises(UsageError, match="is not a TOML grid file"):
        build(path, None, None, None, [])
    path.write_text('tasks = ["wildcard"]\nstrategy = 3\n')
    with pytest.raises(UsageError, match=r"strategy is a table of flags, e.g. \[strategy.NAME\]"):
        build(path, None, None, None, [])
    path.write_text('tasks = ["wildcard"]\n[task]\nwildcard = 3\n')
    with pytest.raises(UsageError, match=r"task is a table of flags, e.g. \[task.NAME\]"):
        build(path, None, None, None, [])
    assert seeds("1-3,7") == [1, 2, 3, 7]
    with pytest.raises(UsageError, match="names a seed twice"):
        seeds("1-3,2")


def test_flags_for_one_task(tmp_path: Path) -> None:
    """A harder task's cells get a larger round or budget; the others keep theirs, keys included."""
    path = tmp_path / "grid.toml"
    path.write_text(
        'tasks = ["wildcard", "permutation"]\nstrategies = ["adversary", "full"]\nseeds = "1"\n'
        "[flags]\nbudget = 20000\nper_round = 160\n"
        "[task.permutation]\nbudget = 60000\nper_round = 640\n"
        "[strategy.full]\nper_round = 80\n"  # a strategy's own flag wins over its task's
    )
    cells = {(c.task, c.strategy): c for c in build(path, None, None, None, []).cells()}
    got = {k: (c.flags["budget"], c.flags["per_round"]) for k, c in cells.items()}
    assert got == {
        ("wildcard", "adversary"): (20000, 160),
        ("wildcard", "full"): (20000, 80),
        ("permutation", "adversary"): (60000, 640),
        ("permutation", "full"): (60000, 80),
    }
    plain = {(c.task, c.strategy): c.key for c in build(path, ["wildcard"], None, None, []).cells()}
    assert plain == {k: cells[k].key for k in plain}  # --tasks drops the other task's section
    on_line = build(path, None, None, None, ["permutation:budget=90000", "full:budget=500"]).cells()
    assert [(c.task, c.strategy, c.flags["budget"]) for c in on_line] == [
        ("wildcard", "adversary", 20000),
        ("wildcard", "full", 500),
        ("permutation", "adversary", 90000),
        ("permutation", "full", 500),
    ]


def test_one_grid_per_results_folder(ida: Run, tmp_path: Path) -> None:
    res = tmp_path / "res"
    res.mkdir()
    with open(res / ".ida-grid.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 4242 on elsewhere\n")
        held.flush()
        r = ida(*grid_args(tmp_path))
    assert r.code == 2
    assert r.stderr == (
        f"error: the results folder {res} is in use by `ida grid` (pid 4242 on elsewhere): wait for "
        "it to finish, or give another --results\n"
    )
    assert list(res.glob("*.json")) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_an_unwritable_results_folder(ida: Run, tmp_path: Path) -> None:
    res = tmp_path / "res"
    res.mkdir()
    res.chmod(0o500)
    try:
        r = ida(*grid_args(tmp_path))
    finally:
        res.chmod(0o700)
    assert r.code == 1 and r.stderr.startswith(f"error: cannot write to the results folder {res}")


def test_a_results_folder_that_is_a_file(ida: Run, tmp_path: Path) -> None:
    (tmp_path / "res").write_text("")
    r = ida(*grid_args(tmp_path))
    assert r.code == 1
    assert r.stderr.startswith(f"error: cannot write to the results folder {tmp_path / 'res'}: ")
    assert r.stderr.endswith("; choose another --results\n") and r.stderr.count("\n") == 1


def test_a_ray_address_that_does_not_answer(ida: Run, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    r = ida(*grid_args(tmp_path, "--ray", "127.0.0.1:9"))
    assert r.code == 1 and r.stderr.startswith("error: cannot reach the Ray cluster at 127.0.0.1:9")
    assert list((tmp_path / "res").glob("*.json")) == []


def test_intervals_and_ratios() -> None:
    assert mean_interval([5.0]) is None
    lo, hi = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0]) or (0, 0)
    assert 1.0 < lo < 3.0 < hi < 5.0
    assert mean_interval([2.0, 2.0]) == (2.0, 2.0)
    ratio, lo, hi = ratio_interval([100.0, 110.0, 90.0], [400.0, 420.0, 380.0]) or (0, 0, 0)
    assert ratio == pytest.approx(0.25) and lo < 0.25 < hi < 0.3

    def run(strategy: str, seed: int, calls: list[int]) -> list[dict[str, object]]:
        return [
            {
                "task": "t",
                "strategy": strategy,
                "variant": strategy,
                "db": f"{strategy}{seed}",
                "experiment": "e",
                "cycle": i,
                "overseer_calls": c,
                "labelled": 0,
                "accuracy": 0.5 if i == 0 else 0.96,
                "cpu_seconds": 10.0 * (i + 1) * (1 if strategy == "supervised" else 4),
            }
            for i, c in enumerate(calls)
        ]

    points = [
        *run("adversary", 1, [50, 100]),
        *run("adversary", 2, [60, 120]),
        *run("random", 1, [50, 200]),
        *run("random", 2, [60, 220]),
        *run("full", 1, [300, 400]),
        *run("full", 2, [300, 440]),
        *run("supervised", 1, [0, 0]),
    ]
    rows = {(r["strategy"], r["level"]): r for r in ratios(points)}
    adv = rows[("adversary", 0.95)]
    assert adv["full"]["against"] == "full" and adv["full"]["ratio"] == pytest.approx(110 / 420)
    assert adv["best_baseline"]["against"] == "random"
    assert adv["best_baseline"]["ratio"] == pytest.approx(110 / 210)
    assert rows[("random", 0.95)]["best_baseline"]["against"] == "full"
    assert rows[("full", 0.95)]["full"] is None
    # CPU seconds to the level over supervised's: 80 against 20
    assert adv["supervised_cpu"]["ratio"] == pytest.approx(4.0) and ("supervised", 0.95) not in rows
    assert ("adversary", 0.99) not in rows  # no run reached 99%
    # of two supervised variants, CPU is set against the one quicker to the level (10 s, not 20)
    quick = [
        {**p, "variant": "supervised (big rounds)", "db": "s2", "cpu_seconds": p["cpu_seconds"] / 2}
        for p in run("supervised", 1, [0, 0])
    ]
    rows = {(r["strategy"], r["level"]): r for r in ratios([*points, *quick])}
    assert rows[("adversary", 0.95)]["supervised_cpu"]["ratio"] == pytest.approx(8.0)


def test_report_reads_saved_experiment_curves(ida: Run, tmp_path: Path) -> None:
    """`ida experiment --json > FILE` is a curve `ida report` reads; with no options in it, a file's
    runs are told apart by its name, and NAME-seedK.json is seed K of NAME."""
    folder = tmp_path / "saved"
    folder.mkdir()
    for name, strategy, cpu in (
        ("big", "supervised", 10.0),
        ("small", "supervised", 30.0),
        ("adv", "adversary", 60.0),
    ):
        points = [
            {
                "experiment": f"unionfind-{strategy}-1",
                "task": "unionfind",
                "strategy": strategy,
                "seed": 1,
                "cycle": i,
                "overseer_calls": 0 if strategy == "supervised" else 100 * (i + 1),
                "labelled": 50 * (i + 1),
                "accuracy": acc,
                "cpu_seconds": cpu * (i + 1),
            }
            for i, acc in enumerate([0.5, 0.96])
        ]
        (folder / f"{name}.json").write_text(json.dumps(points))
    (folder / "other.json").write_text(json.dumps([{"cycle": 0}]))
    r = ida("report", str(folder / "other.json"))
    assert (r.code, r.stderr) == (
        2,
        f"error: {folder / 'other.json'} is not a curve file of `ida grid` or `ida experiment --json`\n",
    )
    (folder / "other.json").unlink()
    doc = ida("report", str(folder), "--level", "0.95", "--json").json()
    assert [row["strategy"] for row in doc["summary"]] == [
        "adversary (adv)",
        "supervised (big)",
        "supervised (small)",
    ]
    [ratio] = doc["ratios"]
    assert ratio["supervised_cpu"]["ratio"] == pytest.approx(120.0 / 20.0)
    table = ida("report", str(folder), "--level", "0.95").stdout
    assert "supervised (small)" in table and "adversary (adv)" in table
    # NAME-seedK.json holding seed K is another seed of NAME; a suffix of another seed is a name
    adv = json.loads((folder / "adv.json").read_text())
    (folder / "adv-seed2.json").write_text(json.dumps([{**p, "seed": 2} for p in adv]))
    (folder / "adv-seed3.json").write_text(json.dumps([{**p, "seed": 4} for p in adv]))
    doc = ida("report", str(folder), "--level", "0.95", "--json").json()
    runs = {row["strategy"]: row["runs"] for row in doc["summary"]}
    assert runs["adversary (adv)"] == 2 and runs["adversary (adv-seed3)"] == 1
