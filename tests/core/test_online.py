"""The online schedule: ML and the adversary train on across cycles from one live state; a run
killed with SIGKILL (during training, or during a round) resumes where it was, and the trees it
stored are neither lost nor stored twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from tests.helpers import Result, Run

TINY = [
    "--task",
    "wildcard",
    "--size",
    "8",
    "--strategy",
    "adversary",
    "--budget",
    "100000",
    "--per-round",
    "6",
    "--train-steps",
    "6",
    "--adversary-steps",
    "3",
    "--eval-questions",
    "16",
    "--seed",
    "3",
    "--max-cycles",
    "3",
]
SAME = ("cycle", "overseer_calls", "labelled", "accuracy", "steps", "model_version", "adversary_version")

# runs `ida experiment` in a child that kills itself (SIGKILL: no cleanup, no atexit) in cycle N:
# in training (after the steps, before the teacher is published and the live state saved), or in a
# round (after its first batch of two trees is committed)
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from ida_cli.learn import continual
    from ida_cli.rounds import run as round_run
    where, cycle = sys.argv[1], int(sys.argv[2])
    calls = {"train": 0, "round": 0}
    def die_at(kind):
        calls[kind] += 1
        if calls[kind] == cycle + 1 - (kind == "round"):  # cycle 0's round is before any training
            os.kill(os.getpid(), signal.SIGKILL)
    if where == "train":
        train = continual.Learner.train
        def killing_train(self, *a, **k):
            out = train(self, *a, **k)
            die_at("train")
            return out
        continual.Learner.train = killing_train
    else:
        round_run.FLUSH_TREES = 2
        commit, make_walker = round_run.commit, round_run.make_walker
        def walker(*a, **k):  # a new round
            calls["round"] += 1
            return make_walker(*a, **k)
        def killing_commit(store, write):
            out = commit(store, write)
            if calls["round"] == cycle + 1:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        round_run.make_walker, round_run.commit = walker, killing_commit
    from ida_cli.cli import main
    sys.argv = ["ida", *sys.argv[3:]]
    main()
    """
)


def killed_run(db: Path, where: str, cycle: int) -> int:
    env = {**os.environ, "IDA_DB": str(db), "IDA_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, where, str(cycle), "experiment", *TINY],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -9, done.stderr
    return done.returncode


def curve_of(r: Result) -> list[dict[str, object]]:
    assert r.code == 0, r.stderr
    return [{k: p[k] for k in SAME} for p in r.json()]


def test_online_runs_on_from_one_learner_and_a_kill_in_training_resumes_the_same_run(
    ida: Run, db: Path, tmp_path: Path, monkeypatch: object
) -> None:
    clean = curve_of(ida("experiment", *TINY, "--json"))
    assert [p["cycle"] for p in clean] == [0, 1, 2]
    assert [p["steps"] for p in clean] == [6, 12, 18]  # one learner, never restarted
    with duckdb.connect(str(db), read_only=True) as con:
        state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
        cpu = con.execute("SELECT cpu_ms FROM curve ORDER BY cycle").fetchall()
    assert all(c > 0 for (c,) in cpu)
    folder = db.with_name(db.name + ".checkpoints")
    # one live state on disk, the recorded one; the versions are the teacher's and adversary's
    assert sorted(p.name for p in folder.glob("online-*")) == [state["live"]]
    killed = tmp_path / "k.duckdb"
    killed_run(killed, "train", 1)
    with duckdb.connect(str(killed), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM curve").fetchone() == (1,)
    monkeypatch.setenv("IDA_DB", str(killed))  # type: ignore[attr-defined]
    resumed = curve_of(ida("experiment", *TINY, "--json"))
    # the live state has the optimizer's moments and the sampler's generator: the same run
    assert resumed == clean


def test_a_kill_in_a_round_keeps_its_stored_trees_once_and_counts_their_calls(
    ida: Run, db: Path, monkeypatch: object
) -> None:
    killed_run(db, "round", 1)
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute("SELECT count(*) FROM trees WHERE round_id = 2").fetchone()[0]
    assert kept == 2  # the first batch was committed; the four being walked were lost
    points = ida("experiment", *TINY, "--json")
    assert points.code == 0, points.stderr
    last = points.json()[-1]
    with duckdb.connect(str(db), read_only=True) as con:
        twice = con.execute(
            "SELECT count(*) FROM (SELECT question_id FROM trees GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()[0]
        trees, calls = con.execute("SELECT count(*), sum(overseer_calls) FROM trees").fetchone()
        status = con.execute("SELECT status FROM rounds WHERE id = 2").fetchone()[0]
        still = con.execute("SELECT count(*) FROM trees WHERE round_id = 2").fetchone()[0]
    assert twice == 0 and still == 2 and status == "killed"
    # the killed round's trees are paid for and labelled, like any other round's
    assert (last["labelled"], last["overseer_calls"]) == (trees, calls)
    assert trees == 2 + 6 * 3


def test_online_bad_input(ida: Run, db: Path) -> None:
    quick = TINY[:-2]  # without --max-cycles
    for extra, message in (
        (["--schedule", "nightly"], "unknown --schedule 'nightly': use online or cycles"),
        (["--warm-start"], "--warm-start is for --schedule cycles: the online schedule never restarts"),
        (
            ["--schedule", "cycles", "--distill", "5"],
            "--distill adds targets to the online schedule's amplified training",
        ),
        (["--ema-horizon", "0"], "--ema-horizon must be at least 1 (1: the teacher is the student)"),
        (["--distill-confidence", "0"], "--distill-confidence must be in (0, 1], e.g. 0.9"),
        (["--bootstrap", "0"], "--bootstrap must be at least 1 (or left out: --per-round)"),
        (["--root-weight", "0"], "--root-weight must be a whole number of copies, at least 1, not 0"),
        (
            ["--schedule", "cycles", "--root-weight", "2"],
            "--root-weight weighs the online schedule's replay: leave it out with --schedule cycles",
        ),
        (
            ["--no-memo", "--memo-stand-ins"],
            "--memo-stand-ins answers from the overseer's memo: leave out --no-memo",
        ),
        (["--no-memo", "--memo-primed"], "--memo-primed adds to the overseer's memo: leave out --no-memo"),
        (["--per-context", "0"], "--per-context must be at least 1"),
    ):
        r = ida("experiment", *quick, *extra)
        assert (r.code, r.stderr) == (2, f"error: {message}\n"), extra
    assert not db.exists()  # refused before anything was written


def test_a_checkpoint_folder_that_cannot_be_written_stops_the_run_and_keeps_what_it_did(
    ida: Run, db: Path
) -> None:
    folder = db.with_name(db.name + ".checkpoints")
    folder.write_text("in the way")  # a file where the folder must be (root may write anywhere)
    r = ida("experiment", *TINY)
    assert r.code == 1
    last = r.stderr.splitlines()[-1]  # after the progress lines: one line naming the file and the fix
    assert last.startswith(f"error: cannot write checkpoint {folder}/model-v1.pt (")
    assert last.endswith("free space or fix the folder's permissions, then run the command again")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM versions").fetchone() == (0,)
        trees = con.execute("SELECT count(*) FROM trees").fetchone()[0]
        state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
    assert trees == 6 and state["phase"] == "model"  # the first round is kept; training is next
    folder.unlink()
    done = ida("experiment", *TINY, "--json")
    assert done.code == 0, done.stderr
    assert [p["cycle"] for p in done.json()] == [0, 1, 2]


def test_the_first_round_has_its_own_size_and_distilled_targets_join_the_replay(ida: Run, db: Path) -> None:
    args = [
        *TINY[:-2],
        "--max-cycles",
        "2",
        "--bootstrap",
        "3",
        "--distill",
        "4",
        "--distill-confidence",
        "0.01",
    ]
    r = ida("experiment", *args, "--json")
    assert r.code == 0, r.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        sizes = con.execute("SELECT questions FROM rounds ORDER BY id").fetchall()
        state = json.loads(con.execute("SELECT state FROM experiments").fetchone()[0])
    assert sizes == [(3,), (6,)]  # full HCH on 3 questions first, then --per-round
    assert [p["labelled"] for p in r.json()] == [3, 9]
    assert "distilled" in state  # the walk ran each cycle (what it kept depends on the adversary)


def test_full_hch_trains_no_adversary_unless_audited_and_learns_the_same(
    ida: Run, db: Path, tmp_path: Path, monkeypatch: object
) -> None:
    full = [*TINY[:5], "full", *TINY[6:-1], "2"]  # two cycles: the second runs on a trained ML
    plain = ida("experiment", *full, "--json")
    assert plain.code == 0, plain.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = con.execute("SELECT DISTINCT kind FROM versions ORDER BY 1").fetchall()
        recorded = con.execute("SELECT count(*) FROM nodes WHERE ml_answer IS NOT NULL").fetchone()
    # ML answered nothing in the rounds (nothing reads its answers), and no adversary was trained
    assert kinds == [("model",)] and recorded == (0,)
    assert all(p["adversary_auroc"] is None for p in plain.json())
    audited_db = tmp_path / "audited.duckdb"
    monkeypatch.setenv("IDA_DB", str(audited_db))  # type: ignore[attr-defined]
    audited = ida("experiment", *full, "--audit", "--json")
    assert audited.code == 0, audited.stderr
    with duckdb.connect(str(audited_db), read_only=True) as con:
        kinds = con.execute("SELECT DISTINCT kind FROM versions ORDER BY 1").fetchall()
        recorded = con.execute("SELECT count(*) FROM nodes WHERE ml_answer IS NOT NULL").fetchone()
    assert kinds == [("adversary",), ("model",)] and recorded[0] > 0
    # the overseer's trees and ML's training are the same: only the audit's work differs
    same = ("cycle", "overseer_calls", "labelled", "accuracy", "steps", "uncertainty_auroc")
    assert [{k: p[k] for k in same} for p in audited.json()] == [
        {k: p[k] for k in same} for p in plain.json()
    ]
    r = ida("experiment", "--task", "wildcard", "--strategy", "supervised", "--budget", "600", "--audit")
    assert (r.code, r.stderr) == (
        2,
        "error: --audit trains the adversary on amplified trees: the supervised baseline has none\n",
    )
