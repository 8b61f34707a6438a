"""`ida experiment` and `ida report` with tiny budgets: the curve, resuming, bad flags, plots."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ida_cli.experiment.report import compare, hc
from tests.helpers import Run

QUICK = [
    "--task",
    "wildcard",
    "--size",
    "8",
    "--per-round",
    "6",
    "--train-minutes",
    "0.03",
    "--adversary-minutes",
    "0.02",
    "--eval-questions",
    "16",
    "--seed",
    "3",
]


def test_experiment_runs_to_budget_and_stores_the_curve(ida: Run, db: Path, tmp_path: Path) -> None:
    r = ida("experiment", "--strategy", "full", "--budget", "60", *QUICK, "--json")
    assert r.code == 0, r.stderr
    points = r.json()
    assert len(points) >= 2 and points[-1]["overseer_calls"] >= 60
    assert [p["cycle"] for p in points] == list(range(len(points)))
    assert all(0 <= p["accuracy"] <= 1 for p in points)
    calls = [p["overseer_calls"] for p in points]
    assert calls == sorted(calls)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM experiments").fetchall() == [("done",)]
        rounds = con.execute("SELECT sum(questions) FROM rounds").fetchone()[0]
    assert rounds == points[-1]["labelled"]
    # running it again with the same flags resumes a finished experiment: nothing more is spent
    again = ida("experiment", "--strategy", "full", "--budget", "60", *QUICK, "--json").json()
    assert again == points
    # different flags are refused, naming what differs
    r = ida("experiment", "--strategy", "full", "--budget", "80", *QUICK, "--name", "wildcard-full-3")
    assert r.code == 2
    assert r.stderr == (
        "error: experiment 'wildcard-full-3' was started with other flags: --budget (60 → 80); "
        "use the same flags to resume (or --extend to raise --budget / --max-cycles), or another "
        "--db / --name\n"
    )
    # --extend raises the budget of a finished run: the curve so far stands, the run goes on
    budget = calls[-1] + 1
    more = ida("experiment", "--strategy", "full", "--budget", str(budget), *QUICK, "--extend", "--json")
    assert more.code == 0, more.stderr
    longer = more.json()
    assert len(longer) > len(points) and longer[: len(points)] == points
    assert longer[-1]["overseer_calls"] >= budget
    r = ida("experiment", "--strategy", "full", "--budget", "70", *QUICK, "--extend")
    assert (r.code, r.stderr) == (
        2,
        f"error: --extend only raises --budget ({budget} → 70): give a larger value\n",
    )
    r = ida(
        "experiment", "--strategy", "full", "--budget", str(budget), *QUICK, "--max-cycles", "9", "--extend"
    )
    assert (r.code, r.stderr) == (
        2,
        "error: --extend only raises --max-cycles (None → 9): give a larger value\n",
    )
    r = ida("experiment", "--strategy", "full", "--budget", "60", *QUICK, "--seed", "4", "--extend")
    assert (r.code, r.stderr) == (
        2,
        "error: no experiment 'wildcard-full-4' to extend: run it without --extend first\n",
    )
    out = tmp_path / "curves.png"
    rep = ida("report", str(db), "--plot", str(out), "--json")
    assert rep.code == 0, rep.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = rep.json()["summary"]
    assert [(s["task"], s["strategy"], s["runs"]) for s in summary] == [("wildcard", "full", 1)]
    # an experiment that has just started (no point yet) is left out of a comparison, with a warning;
    # alone, it is an error
    fresh = tmp_path / "fresh.duckdb"
    assert ida("--db", str(fresh), "init").code == 0
    rep = ida("report", str(db), str(fresh), "--json")
    assert rep.code == 0 and rep.json()["summary"] == summary
    assert " ".join(rep.stderr.split()) == f"warning: {fresh} has no curve point yet: left out"
    rep = ida("report", str(fresh))
    assert (rep.code, rep.stderr) == (
        2,
        f"error: {fresh} holds no experiment curve: run `ida experiment --db {fresh} ...` first\n",
    )


def test_experiment_bad_input(ida: Run, db: Path, tmp_path: Path) -> None:
    r = ida("experiment", "--strategy", "full", "--budget", "3", *QUICK)
    assert (r.code, r.stderr) == (
        2,
        "error: --budget 3 is smaller than one round (6 questions, each costing at "
        "least one overseer call): raise --budget or lower --per-round\n",
    )
    r = ida("experiment", "--strategy", "greedy", "--budget", "60", *QUICK)
    assert r.code == 2 and r.stderr.startswith("error: unknown strategy 'greedy'")
    missing = tmp_path / "nope" / "c.png"
    r = ida("experiment", "--strategy", "full", "--budget", "60", *QUICK, "--plot", str(missing))
    assert (r.code, r.stderr) == (
        2,
        f"error: cannot write {missing}: folder {missing.parent} does not exist; "
        "create it or choose another -o\n",
    )
    assert not db.exists()


def test_hc_and_compare_by_hand() -> None:
    pts = [
        {
            "cycle": i,
            "strategy": "adversary",
            "task": "t",
            "overseer_calls": c,
            "labelled": 0,
            "accuracy": a,
            "experiment": "e",
            "db": "x",
        }
        for i, (c, a) in enumerate([(100, 0.5), (200, 0.92), (300, 0.96)])
    ]
    assert hc(pts, 0.9) == 200 and hc(pts, 0.95) == 300 and hc(pts, 0.99) is None
    other = [{**p, "db": "y", "overseer_calls": p["overseer_calls"] * 2} for p in pts]
    row = compare(pts + other)[0]
    assert row["runs"] == 2 and row["HC@0.9"]["mean"] == 300 and row["HC@0.99"]["reached"] == "0/2"
    assert json.dumps(row)


def test_experiment_primes_the_overseer_once_an_adversary_exists(ida: Run, db: Path) -> None:
    # a primed overseer may spend almost nothing a cycle: --max-cycles ends the run
    # (a sharp τ keeps a barely trained ML's steps out, so that its trees stay small)
    args = ["--budget", "100000", *QUICK, "--confidence", "-0.05", "--temperature", "0.01"]
    args += ["--max-cycles", "2", "--train-steps", "3", "--adversary-steps", "2"]
    r = ida("experiment", "--strategy", "adversary", *args, "--json")
    assert r.code == 0, r.stderr
    assert [p["cycle"] for p in r.json()] == [0, 1]
    with duckdb.connect(str(db), read_only=True) as con:
        rounds = con.execute("SELECT strategy, params FROM rounds ORDER BY id").fetchall()
        steps = con.execute("SELECT kind, metrics->>'steps' FROM versions ORDER BY id").fetchall()
    # step budgets, not minutes: every cycle trained exactly that many steps, ML on from the last
    # cycle (the online schedule counts its steps so far), the adversary for its steps
    assert steps == [("model", "3"), ("adversary", "2"), ("model", "6"), ("adversary", "2")]
    assert len(rounds) >= 2
    # the first round has no model to stand in for the overseer: scripted full HCH, unprimed
    assert rounds[0][0] == "full" and json.loads(rounds[0][1]).get("confidence") is None
    assert all(s == "adversary" and json.loads(p)["confidence"] == -0.05 for s, p in rounds[1:])
    r = ida("experiment", "--strategy", "full", "--budget", "60", *QUICK, "--max-cycles", "0")
    assert (r.code, r.stderr) == (2, "error: --max-cycles must be at least 1\n")
    r = ida("experiment", "--strategy", "full", "--budget", "60", *QUICK, "--train-steps", "0")
    assert (r.code, r.stderr) == (
        2,
        "error: --train-steps must be at least 1 (or left out to train for the minutes given)\n",
    )
    r = ida("experiment", "--strategy", "supervised", "--budget", "60", *QUICK, "--confidence", "-0.5")
    assert (r.code, r.stderr) == (
        2,
        "error: --confidence primes the overseer of a round: the supervised baseline has none\n",
    )


def test_a_variant_names_the_settings_that_differ_from_the_defaults() -> None:
    from ida_cli.experiment.report import variant

    # τ is shown only where a draw reads it
    assert variant({"strategy": "full", "temperature": 1.0, "alpha": None}) == "full"
    assert variant({"strategy": "full", "temperature": 1.0, "confidence": -0.1}) == "full (τ=1, α'=-0.1)"
    # the default priming (α' −0.15, τ 0.05) is the plain strategy, given or left to the default
    flags = {"strategy": "adversary", "temperature": 0.05, "confidence": -0.15, "curriculum": True}
    assert variant(flags) == "adversary (curriculum)"
    assert variant({"strategy": "adversary", "prime": True}) == "adversary"
    assert variant({"strategy": "adversary", "prime": False}) == "adversary (unprimed)"
    # stored before `prime` existed: primed only with a threshold given
    assert variant({"strategy": "adversary", "temperature": 1.0}) == "adversary (τ=1, unprimed)"
    assert variant({"strategy": "uncertainty", "confidence": -0.5}) == "uncertainty (α'=-0.5)"
    assert variant({"strategy": "random", "prime_rate": 0.4}) == "random (rate=0.4)"
    assert variant({"strategy": "bernoulli", "alpha": -0.2}) == "bernoulli (α=-0.2, unprimed)"
    assert variant({"strategy": "full", "warm_start": True}) == "full (warm start)"
    assert variant({"strategy": "supervised", "per_context": 1}) == "supervised (ctx=1)"
    assert variant({"strategy": "supervised", "per_context": 8}) == "supervised"


def test_a_flag_added_since_an_experiment_started_counts_as_its_default(ida: Run, db: Path) -> None:
    import pytest

    from ida_cli.errors import UsageError
    from ida_cli.experiment.options import ExperimentOptions
    from ida_cli.experiment.run import start
    from ida_cli.store import Store

    assert ida("init").code == 0
    store = Store(db)
    opts = ExperimentOptions(
        task="wildcard", size=8, strategy="full", budget=60, seed=3, per_round=6, schedule="cycles"
    )
    start(store, opts, "old")
    with duckdb.connect(str(db)) as con:  # as stored before --warm-start, --schedule and --audit existed
        flags = json.loads(con.execute("SELECT flags FROM experiments").fetchone()[0])
        del flags["warm_start"], flags["schedule"], flags["audit"]
        con.execute("UPDATE experiments SET flags = ?", [json.dumps(flags)])
    opts.audit = True  # it trained an adversary whatever the strategy
    assert start(store, opts, "old")["cycle"] == 0  # resumes
    opts.warm_start = True
    with pytest.raises(UsageError, match=r"--warm-start \(False → True\)"):
        start(store, opts, "old")
    # it ran before the online schedule existed: in cycles, which the new default is not
    opts.warm_start, opts.schedule = False, "online"
    with pytest.raises(UsageError, match=r"--schedule \(cycles → online\)"):
        start(store, opts, "old")
    opts.schedule, opts.audit = "cycles", False
    with pytest.raises(UsageError, match=r"--audit \(True → False\)"):
        start(store, opts, "old")


def test_keep_checkpoints_prunes_after_every_cycle_and_may_change_on_resume(ida: Run, db: Path) -> None:
    args = ["--strategy", "adversary", "--budget", "400", *QUICK]
    r = ida("experiment", *args, "--keep-checkpoints", "0")
    assert (r.code, r.stderr) == (
        2,
        "error: --keep-checkpoints must be at least 1 (or left out to keep every checkpoint)\n",
    )
    r = ida("experiment", *args, "--max-cycles", "2", "--keep-checkpoints", "1", "--json")
    assert r.code == 0, r.stderr
    assert len(r.json()) == 2
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT kind, version, status, checkpoint FROM versions ORDER BY kind, version"
        ).fetchall()
    assert [(k, v, s) for k, v, s, _ in rows] == [
        ("adversary", 1, "pruned"),
        ("adversary", 2, "ready"),
        ("model", 1, "pruned"),
        ("model", 2, "ready"),
    ]
    folder = db.with_name(db.name + ".checkpoints")  # checkpoints are recorded by name in it
    assert [(folder / c).exists() for *_, c in rows] == [False, True, False, True]
    # housekeeping, not the run's identity: a resume with another value is not "other flags"
    r = ida("experiment", *args, "--keep-checkpoints", "2", "--max-cycles", "3", "--extend", "--json")
    assert r.code == 0, r.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        ready = con.execute(
            "SELECT kind, version FROM versions WHERE status = 'ready' ORDER BY 1, 2"
        ).fetchall()
        flags = json.loads(con.execute("SELECT flags FROM experiments").fetchone()[0])
    assert ready == [("adversary", 2), ("adversary", 3), ("model", 2), ("model", 3)]
    assert flags["keep_checkpoints"] == 2


def test_until_stops_at_the_accuracy_and_a_resume_may_raise_it(
    ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ida_cli.learn import evaluate as evaluation

    accuracies = iter([0.5, 0.92, 0.97, 0.99])
    monkeypatch.setattr(
        evaluation, "evaluate", lambda *a, **k: {"accuracy": next(accuracies), "model_version": 1}
    )
    args = ["experiment", "--strategy", "full", "--budget", "5000", *QUICK]
    for bad in ("0", "1.5", "nan"):
        r = ida(*args, "--until", bad)
        assert (r.code, r.stderr) == (2, f"error: --until must be an accuracy in (0, 1], not {float(bad)}\n")
    points = ida(*args, "--until", "0.9", "--json").json()
    assert [p["accuracy"] for p in points] == [0.5, 0.92]
    points = ida(*args, "--until", "0.95", "--json").json()  # a resume: --until may change
    assert [p["accuracy"] for p in points] == [0.5, 0.92, 0.97]


def test_a_long_run_gets_another_pool_when_the_first_runs_low(ida: Run, db: Path) -> None:
    from dataclasses import replace

    from ida_cli.experiment.cycle import ensure_pool
    from ida_cli.experiment.options import ExperimentOptions
    from ida_cli.rounds.run import RoundOptions, run_round
    from ida_cli.store import Store

    assert ida("init").code == 0
    store = Store(db)
    opts = ExperimentOptions(
        task="permutation", size=8, strategy="full", budget=10**6, seed=3, per_round=6, pool=16
    )

    def counts() -> tuple[int, int]:
        with duckdb.connect(str(db), read_only=True) as con:
            row = con.execute("SELECT count(*), count(DISTINCT context_id) FROM questions").fetchone()
        return int(row[0]), int(row[1])

    state: dict[str, object] = {"size": 8, "sizes_generated": []}
    ensure_pool(store, opts, state)
    assert counts() == (16, 2)  # 8 questions a context
    wide = Store(db.with_name("wide.duckdb"))
    ensure_pool(wide, replace(opts, per_context=2), {"size": 8, "sizes_generated": []})
    with duckdb.connect(str(db.with_name("wide.duckdb")), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT context_id) FROM questions").fetchone() == (16, 8)
    for left in (10, 4):
        run_round(store, RoundOptions(task="permutation", questions=6, seed=left))
        ensure_pool(store, opts, state)
        ensure_pool(store, opts, state)  # again, as a rerun after a kill would: nothing more
        # 4 left are fewer than a round's 6: 16 more questions, on contexts of their own
        assert counts() == ((16, 2) if left == 10 else (32, 4))
