"""A scripted round claims the questions it walks (ida_cli/store/claims.py): `ida label` and other
rounds leave them alone until it ends, and a killed round's claims stop counting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ida_cli.errors import Interrupted, StoreError
from ida_cli.rounds.run import RoundOptions, run_round
from ida_cli.store import Store, claims, records
from ida_cli.store import label_records as lrec
from tests.helpers import Run


def claimed(db: Path) -> dict[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT question_id, round_id FROM round_claims").fetchall())


def test_a_walking_round_holds_its_questions_and_gives_them_back(ida: Run, db: Path) -> None:
    made = ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "30", "--seed", "1")
    assert made.code == 0
    store = Store(db)
    seen: dict[str, object] = {}

    def during(done: int, total: int) -> None:
        if done != 1:
            return
        with store.read() as con:
            held = set(claimed_during(con))
            seen["held"] = held
            seen["pool"] = set(records.unlabelled_pool(con, "wildcard"))
            seen["label"] = {q for q, _ in lrec.available(con, "wildcard", "ann")}
        # a second round started meanwhile picks only questions the first does not hold
        seen["second"] = run_round(store, RoundOptions(task="wildcard", questions=30, seed=2)).trees

    first = run_round(store, RoundOptions(task="wildcard", questions=10, seed=1), progress=during)
    with duckdb.connect(str(db), read_only=True) as con:
        by_round = con.execute("SELECT round_id, question_id FROM trees ORDER BY question_id").fetchall()
        statuses = con.execute("SELECT status FROM rounds ORDER BY id").fetchall()
    walked = {q for r, q in by_round if r == first.round_id}
    held = seen["held"]
    assert isinstance(held, set) and held == walked and len(walked) == 10
    assert not held & seen["pool"] and not held & seen["label"]  # type: ignore[operator]
    assert seen["second"] == 20 and len({q for _, q in by_round}) == 30  # no question walked twice
    assert statuses == [("done",), ("done",)] and claimed(db) == {}


def claimed_during(con: object) -> list[int]:
    return [int(r[0]) for r in con.execute("SELECT question_id FROM round_claims").fetchall()]  # type: ignore[attr-defined]


def test_an_interrupted_round_gives_its_claims_back(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "20", "--seed", "1")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        run_round(Store(db), RoundOptions(task="wildcard", questions=20), progress=interrupt)
    assert claimed(db) == {}
    with Store(db).read() as con:
        assert len(records.unlabelled_pool(con, "wildcard")) == 20 - len(
            con.execute("SELECT id FROM trees").fetchall()
        )


def test_a_killed_rounds_claims_stop_counting(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "6", "--seed", "1")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid of this host whose process has ended: the round was killed
    store = Store(db)
    with store.write() as con:
        ids = sorted(records.unlabelled_pool(con, "wildcard"))
        records.create_session(con, "dead", "round", "scripted", gone.pid)
        round_id = records.create_round(
            con, session_id="dead", task="wildcard", oracle="scripted", strategy="full", pick="random",
            params={}, seed=0, questions=3,
        )  # fmt: skip
        claims.claim_for_round(con, round_id, "dead", ids[:3])
    with store.read() as con:  # a label session sees through the dead claims without writing
        assert {q for q, _ in lrec.available(con, "wildcard", "ann")} == set(ids)
    result = run_round(store, RoundOptions(task="wildcard", questions=6, seed=3))
    assert result.trees == 6 and claimed(db) == {}
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM rounds WHERE id = ?", [round_id]).fetchone() == ("killed",)
        assert con.execute("SELECT status FROM sessions WHERE id = 'dead'").fetchone() == ("killed",)


def test_two_rounds_can_never_claim_one_question(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    store = Store(db)
    with store.write() as con:
        ids = sorted(records.unlabelled_pool(con, "wildcard"))
        claims.claim_for_round(con, 1, "a", ids[:2])
    with pytest.raises(StoreError, match=r"(?i)duplicate key"), store.write() as con:
        claims.claim_for_round(con, 2, "b", ids[1:3])
    assert claimed(db) == {ids[0]: 1, ids[1]: 1}


def test_a_round_replaces_questions_taken_meanwhile_while_free_ones_remain(
    ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading the pool and claiming its picks, another round takes most of them: the round
    draws replacements from the questions still free (issue 21, item 7)."""
    from ida_cli.rounds import run as round_run

    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "40", "--seed", "1")
    store = Store(db)
    create = round_run._create_round
    others: list[int] = []

    def contended(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not others:
            others.append(0)  # the other round's own claim goes straight through
            others[0] = run_round(store, RoundOptions(task="wildcard", questions=25, seed=2)).trees
        return create(*args, **kwargs)

    monkeypatch.setattr(round_run, "_create_round", contended)
    first = run_round(store, RoundOptions(task="wildcard", questions=10, seed=1))
    assert others == [25]
    assert first.trees == 10 and first.pick_info["taken_meanwhile"] > 0
    assert first.pick_info["replaced"] == first.pick_info["taken_meanwhile"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT question_id), count(*) FROM trees").fetchone() == (35, 35)


def test_a_round_says_when_fewer_questions_exist_than_asked(ida: Run, tmp_path: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "12", "--seed", "1")
    r = ida("round", "--questions", "100000000000000", "--json")
    assert r.code == 0 and r.json()["questions"] == 12 and r.json()["questions_available"] == 12
    assert r.stderr == (
        "warning: 100000000000000 questions asked, only 12 unlabelled training questions were left for "
        "task wildcard: generate more with `ida questions generate`\n"
    )
    missing = tmp_path / "nowhere.duckdb"
    r = ida("--db", str(missing), "round")
    assert (r.code, r.stderr) == (
        2,
        f"error: no database at {missing}: run `ida init` and `ida questions generate` first\n",
    )
    assert not missing.exists()
