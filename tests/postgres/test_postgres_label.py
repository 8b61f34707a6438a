"""Several `ida label` sessions on one store at once: the claiming code path of `LabelSession`
driven by scripted annotators (a terminal that accepts ML's suggestion, and an ML that imitates the
scripted expert), in separate processes against a real PostgreSQL server, and in threads on a DuckDB
file. Checks that no question is served twice (unless --overlap asks), no step is lost or stored
twice, a dead session's claim is taken over after the timeout (a live one's never), and a session
survives the server going away."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

from ida_cli.errors import DatabaseUnreachable, UsageError
from ida_cli.label import LabelOptions, LabelSession
from ida_cli.store import Store
from ida_cli.store import label_actions as acts
from ida_cli.store.db import next_id
from ida_cli.tasks import get_task
from ida_cli.vocabulary import JSON
from tests.helpers import ROOT, PgServer, in_process

TASK = "wildcard"


# -- a scripted annotator -----------------------------------------------------------------------------
class ExpertML:
    """ML whose fan-out and fan-in are the scripted expert's, so that accepting every suggestion
    labels a question correctly; its answers to subquestions are never used (strategy full)."""

    version = 1

    def __init__(self, task: str) -> None:
        self.task, self._t = task, get_task(task)

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        return [(0, -1.0) for _ in items]

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Any, float]]:
        return [(self._t.expert_fan_out(c, q), -0.1) for c, q in items]

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Any]]) -> list[tuple[Any, float]]:
        return [(self._t.expert_fan_in(c, q, t), -0.1) for c, q, t in items]


class ExpertModels:
    def current(self, task: str) -> tuple[int | None, int | None]:
        return 1, None

    def load(self, task: str, model: int | None, adversary: int | None) -> tuple[Any, Any]:
        return ExpertML(task), None


class AcceptingTerm:
    """Presses y (accept) for every step, `budget` times, then q. Records, per action, the seconds
    from the key to the next screen that waits for a key (commit, walk, next question: what a
    person would wait), and calls `before_key(n)` before handing out the n-th key."""

    def __init__(self, budget: int | None = None, before_key: Callable[[int], None] | None = None) -> None:
        self.budget, self.before_key = budget, before_key
        self.sent = 0
        self.latencies: list[float] = []
        self.screens: list[str] = []
        self._t: float | None = None

    def size(self) -> tuple[int, int]:
        return 100, 30

    def draw(self, screen: str) -> None:
        self.screens.append(screen)

    def read_key(self) -> str:
        if self._t is not None:
            self.latencies.append(time.perf_counter() - self._t)
            self._t = None
        if self.budget is not None and self.sent >= self.budget:
            return "q"
        if self.before_key is not None:
            self.before_key(self.sent)
        self.sent += 1
        self._t = time.perf_counter()
        return "y"

    def read_line(
        self, prompt: str, initial: str = "", redraw: Callable[[], None] | None = None
    ) -> str | None:
        raise AssertionError("a scripted annotator only accepts suggestions")


def annotate(
    db: str, name: str, budget: int | None = None, limit: int | None = None, overlap: int | None = None
) -> dict[str, Any]:
    """One scripted annotator's whole `ida label` session (also run in worker processes)."""
    term = AcceptingTerm(budget)
    opts = LabelOptions(name, task=TASK, strategy="full", limit=limit, seed=7, overlap=overlap)
    session = LabelSession(Store(db, command="ida label"), opts, term, ExpertModels())
    try:
        session.start()
    except UsageError as e:  # nothing left for this annotator
        return {"name": name, "keys": 0, "labelled": 0, "latencies": [], "status": str(e)}
    summary = session.run()
    return {
        "name": name,
        "keys": term.sent,
        "labelled": summary.labelled,
        "latencies": term.latencies,
        "status": summary.status,
    }


def generate(db: str, count: int, seed: int = 5) -> None:
    from ida_cli.project.questions import generate as gen

    gen(Store(db), TASK, 8, count, seed)


def rows(db: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with Store(db).read() as con:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def check_store(db: str, runs: list[dict[str, Any]], overlap: int = 1) -> dict[str, int]:
    """Every accepted step is stored exactly once, every finished question's tree holds exactly its
    steps, and no question went to more than `overlap` annotators (nor twice to one)."""
    steps = rows(
        db,
        """SELECT a.id, a.actor, a.item_id, a.tree_id, a.node_id, a.kind, a.step, a.note FROM actions a
           WHERE a.actor LIKE 'human:%' AND a.kind IN ('fan_out', 'fan_in')""",
    )
    by_actor = Counter(r[1] for r in steps)
    for run in runs:  # no step lost, none stored twice
        assert by_actor[f"human:{run['name']}"] == run["keys"], (run["name"], by_actor, run["keys"])
    keys = Counter(
        (
            r[2],
            r[5],
            r[6],
            json.dumps(json.loads(r[7])["node"]),
            json.dumps(json.loads(r[7]).get("transcript")),
        )
        for r in steps
    )
    assert max(keys.values(), default=0) == 1, "a step stored twice"
    items = rows(db, "SELECT id, question_id, annotator, status, tree_id FROM label_items")
    served = Counter(q for _, q, _, status, _ in items if status in ("open", "done"))
    assert max(served.values(), default=0) <= overlap, "a question served to too many annotators"
    pairs = Counter((q, a) for _, q, a, status, _ in items if status in ("open", "done"))
    assert max(pairs.values(), default=0) == 1, "a question served twice to one annotator"
    trees = rows(db, "SELECT question_id, count(*) FROM trees GROUP BY question_id")
    assert max((n for _, n in trees), default=0) <= overlap
    # a finished item's tree is made of exactly the steps linked to it, one per overseer call
    done = {i: t for i, _, _, status, t in items if status == "done"}
    linked = Counter(r[3] for r in steps if r[3] is not None)
    calls = dict(rows(db, "SELECT id, overseer_calls FROM trees"))
    assert set(linked) == set(done.values())
    assert all(linked[t] == calls[t] for t in done.values())
    assert all(r[2] is not None for r in steps)
    # claims: one per open or done item, never more than `overlap` per question
    claims = rows(db, "SELECT question_id, slot, item_id FROM label_claims")
    assert sorted(c[2] for c in claims) == sorted(i for i, _, _, s, _ in items if s in ("open", "done"))
    assert all(0 <= c[1] < overlap for c in claims)
    return {"steps": len(steps), "done": len(done), "trees": sum(n for _, n in trees)}


# -- concurrency --------------------------------------------------------------------------------------
def test_concurrent_annotators_in_processes_lose_and_duplicate_nothing(pg_url: str) -> None:
    generate(pg_url, 40)
    names = [f"ann{i}" for i in range(4)]
    with ProcessPoolExecutor(len(names), mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(annotate, [pg_url] * len(names), names, [40] * len(names)))
    assert all(r["status"] == "quit" for r in runs), runs
    totals = check_store(pg_url, runs)
    assert totals["steps"] == 160 and totals["done"] >= 4
    # every annotator worked on their own questions; ida status shows each one's progress
    from ida_cli.project.status import status

    doc = {a["annotator"]: a for a in status(Store(pg_url))["annotators"]}
    assert set(doc) == set(names)
    for r in runs:
        a = doc[r["name"]]
        assert (a["done"], a["steps"], a["live"]) == (r["labelled"], r["keys"], False)
        assert a["open"] == 1  # quit in the middle of a question: it stays theirs to resume


def test_overlap_serves_each_question_to_k_annotators(pg_url: str) -> None:
    generate(pg_url, 4)
    errors: list[BaseException] = []
    runs: list[dict[str, Any]] = []

    def work(name: str) -> None:
        try:
            runs.append(annotate(pg_url, name, overlap=2))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"k{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    totals = check_store(pg_url, runs, overlap=2)
    assert totals["done"] == totals["trees"] == 8  # every question, twice, by two people
    per_question = rows(
        pg_url,
        "SELECT question_id, count(DISTINCT annotator) FROM label_items WHERE status = 'done' GROUP BY 1",
    )
    assert sorted(n for _, n in per_question) == [2] * 4
    # a later annotator with overlap 1 finds nothing left; with 3 they get every question
    assert annotate(pg_url, "late")["keys"] == 0
    late = annotate(pg_url, "late3", overlap=3)
    assert late["labelled"] == 4


def test_the_same_claiming_on_a_duckdb_file(tmp_path: Path) -> None:
    """On a DuckDB file (one process at a time) annotators take turns: a question left open by one
    is never served to the next, and its owner finishes it later."""
    db = str(tmp_path / "l.duckdb")
    generate(db, 6)
    first = annotate(db, "d0", budget=3)  # quits in the middle of a question: it stays d0's
    [(open_q,)] = rows(db, "SELECT question_id FROM label_items WHERE status = 'open'")
    second = annotate(db, "d1", budget=40)
    assert open_q not in [
        q for (q,) in rows(db, "SELECT question_id FROM label_items WHERE annotator = 'd1'")
    ]
    again = annotate(db, "d0")  # resumes its question, then takes what is left
    assert again["labelled"] >= 1
    runs = [second, {"name": "d0", "keys": first["keys"] + again["keys"]}]
    totals = check_store(db, runs)
    assert totals["done"] == totals["trees"] == 6


def test_a_scripted_round_leaves_claimed_questions_to_their_annotator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "r.duckdb")
    generate(db, 6)
    annotate(db, "d0", budget=3)  # leaves one question open, claimed by d0
    [(open_q,)] = rows(db, "SELECT question_id FROM label_items WHERE status = 'open'")
    ida = in_process(db, monkeypatch)
    r = ida("round", "--task", TASK, "--strategy", "full", "--questions", "10", "--json")
    assert r.code == 0, r.stderr
    walked = [q for (q,) in rows(db, "SELECT question_id FROM trees t WHERE NOT EXISTS "
                                    "(SELECT 1 FROM label_items l WHERE l.tree_id = t.id)")]  # fmt: skip
    assert open_q not in walked and len(walked) == 5
    assert annotate(db, "d0")["labelled"] == 1  # d0 comes back and finishes it


# -- stale claims -------------------------------------------------------------------------------------
HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.postgres.test_postgres_label import AcceptingTerm, ExpertModels, TASK
from ida_cli.label import LabelOptions, LabelSession
from ida_cli.store import Store

class Stuck(AcceptingTerm):
    def read_key(self):
        if self.sent >= 1:  # one step stored: now the person thinks, for ever
            print("ready", flush=True)
            time.sleep(3600)
        return super().read_key()

opts = LabelOptions("holder", task=TASK, strategy="full")
session = LabelSession(Store(sys.argv[1]), opts, Stuck(), ExpertModels())
session.start()
session.run()
"""


def test_a_dead_sessions_claim_is_taken_over_after_the_timeout(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDA_CLAIM_TIMEOUT", "2")
    generate(pg_url, 1)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(root=str(ROOT)), pg_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "IDA_CLAIM_TIMEOUT": "2"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        # alive and thinking longer than the timeout: its heartbeat keeps the question its own
        time.sleep(3)
        assert annotate(pg_url, "taker")["keys"] == 0
        status = {a["annotator"]: a for a in _status(pg_url)}
        assert status["holder"]["live"] is True and status["holder"]["open"] == 1
    finally:
        holder.kill()
        holder.wait()
    # dead: its claim is free once the timeout has passed since it was last seen
    time.sleep(2.5)
    run = annotate(pg_url, "taker2")
    assert run["labelled"] == 1
    items = rows(pg_url, "SELECT annotator, status FROM label_items ORDER BY id")
    assert items == [("holder", "expired"), ("taker2", "done")]
    kept = rows(pg_url, "SELECT count(*) FROM actions WHERE actor = 'human:holder' AND tree_id IS NULL")
    assert kept == [(1,)]  # the dead session's step is kept, outside any tree
    assert rows(pg_url, "SELECT count(*) FROM trees") == [(1,)]
    status = {a["annotator"]: a for a in _status(pg_url)}
    assert (status["holder"]["expired"], status["holder"]["live"], status["taker2"]["done"]) == (1, False, 1)
    # the holder comes back: its question is gone, and it is told so
    back = annotate(pg_url, "holder")
    assert back["keys"] == 0 and "no unlabelled training questions" in back["status"]


def _status(db: str) -> list[dict[str, Any]]:
    from ida_cli.project.status import status

    return list(status(Store(db))["annotators"])


# -- faults -------------------------------------------------------------------------------------------
def test_a_server_restart_mid_session_is_survived(pg_server: PgServer, pg_url: str) -> None:
    generate(pg_url, 3)
    restarted = threading.Event()

    def outage(n: int) -> None:
        if n == 3:  # the 4th step: the server goes away as the person gives it, back 2 s later
            pg_server.stop("fast")

            def back() -> None:
                pg_server.start()
                restarted.set()

            threading.Timer(2.0, back).start()

    term = AcceptingTerm(before_key=outage)
    opts = LabelOptions("rita", task=TASK, strategy="full", seed=1, limit=2)
    session = LabelSession(Store(pg_url), opts, term, ExpertModels())
    session.start()
    summary = session.run()
    assert restarted.wait(30)
    assert (summary.status, summary.labelled) == ("done", 2) and term.sent > 3
    screens = "\n".join(term.screens)
    assert "the database server cannot be reached" in screens
    assert "is kept and will be stored as soon as the database answers" in screens
    assert "ida-secret-pw" not in screens
    totals = check_store(pg_url, [{"name": "rita", "keys": term.sent}])
    assert totals["done"] == totals["trees"] == 2


class LosesReplies(Store):
    """A store whose server commits the first step and then drops the connection before the reply
    (so the session cannot know whether it was stored)."""

    lose = 1
    stepped = False

    @contextlib.contextmanager
    def write(self, writer_lock: bool = True) -> Iterator[Any]:
        with super().write(writer_lock) as con:
            yield con
        if self.stepped and self.lose and threading.current_thread() is threading.main_thread():
            self.lose -= 1
            self.stepped = False
            raise DatabaseUnreachable("lost the connection: server closed the connection unexpectedly")


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_a_step_whose_commit_reply_is_lost_is_stored_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "r.duckdb") if backend == "duckdb" else str(request.getfixturevalue("pg_url"))
    generate(db, 2)
    store = LosesReplies(db)
    real = acts.add_action

    def add_action(con: Any, **kw: Any) -> int:
        if kw["kind"] == "fan_out":
            store.stepped = True
        return real(con, **kw)

    monkeypatch.setattr(acts, "add_action", add_action)
    term = AcceptingTerm(budget=6)
    session = LabelSession(store, LabelOptions("lou", task=TASK, strategy="full"), term, ExpertModels())
    session.start()
    session.run()
    assert store.lose == 0 and "the database server cannot be reached" in "\n".join(term.screens)
    check_store(db, [{"name": "lou", "keys": 6}])


# -- the real program ---------------------------------------------------------------------------------
def _label_as(db: str, name: str, *args: str) -> Any:
    """`ida label --annotator NAME` in a pseudo-terminal (tests/terminal/test_label.py's driver)."""
    import pexpect

    from tests.terminal.test_label import Label

    lab = Label.__new__(Label)
    env = {**os.environ, "IDA_DB": db, "NO_COLOR": "1", "TERM": "xterm", "LANG": "C.UTF-8"}
    env.pop("IDA_TRACEBACK", None)
    lab.child = pexpect.spawn(
        sys.executable,
        ["-m", "ida_cli", "label", "--annotator", name, *args],
        env=env,
        cwd=str(ROOT),
        dimensions=(30, 100),
        encoding="utf-8",
        timeout=30,
    )
    lab.raw, lab.pos = "", 0
    return lab


def test_ida_label_in_a_terminal_against_the_server(pg_url: str) -> None:
    """`ida label` itself (a pseudo-terminal) with IDA_DB a PostgreSQL URL: steps are stored as
    given, and a second annotator is not served the question in progress unless --overlap allows."""
    from ida_cli.project.questions import generate as gen
    from tests.terminal.test_label import POW

    gen(Store(pg_url), "permutation", 8, 1, 4)
    alice = _label_as(pg_url, "alice")
    m = alice.expect(r"fan-out  " + POW)
    x = int(m.group(1))
    alice.send("s")
    alice.line(f"pow {x} 1")
    alice.expect(rf"fan-out  pow {x} 1")
    assert rows(pg_url, "SELECT actor, kind, item_id FROM actions") == [("human:alice", "fan_out", 1)]
    status = {a["annotator"]: a for a in _status(pg_url)}
    assert (status["alice"]["open"], status["alice"]["live"], status["alice"]["steps"]) == (1, True, 1)
    # while alice thinks: bob gets nothing with overlap 1, and alice's question with overlap 2
    bob = _label_as(pg_url, "bob", "--overlap", "1")
    assert bob.finish() == 2
    assert "no unlabelled training questions left for task permutation" in bob.text()
    bob = _label_as(pg_url, "bob", "--overlap", "2")
    bob.expect(r"fan-out  " + POW)
    bob.send("q")
    assert bob.finish() == 0
    alice.send("q")
    assert alice.finish() == 0
    assert "ida-secret-pw" not in alice.text() + bob.text()
    items = rows(pg_url, "SELECT annotator, status FROM label_items ORDER BY id")
    assert items == [("alice", "open"), ("bob", "open")]
    assert rows(pg_url, "SELECT slot, annotator FROM label_claims ORDER BY slot") == [
        (0, "alice"),
        (1, "bob"),
    ]


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_a_step_given_while_another_writer_holds_the_store_waits_and_is_stored(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "b.duckdb") if backend == "duckdb" else str(request.getfixturevalue("pg_url"))
    generate(db, 2)
    monkeypatch.setenv("IDA_LOCK_TIMEOUT", "0.3")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # as a round writing trees does: the writer lock, and action ids
        with Store(db, command="ida hold").write() as con:
            next_id(con, "actions")
            held.set()
            release.wait(2.0)

    def busy(n: int) -> None:
        if n == 2:  # another command holds the store while the person gives the 3rd step
            threading.Thread(target=hold, daemon=True).start()
            assert held.wait(10)

    term = AcceptingTerm(budget=5, before_key=busy)
    session = LabelSession(Store(db), LabelOptions("bea", task=TASK, strategy="full"), term, ExpertModels())
    session.start()
    session.run()
    screens = "\n".join(term.screens)
    assert "the database is busy" in screens and "database is in use by " in screens
    check_store(db, [{"name": "bea", "keys": 5}])


def test_a_step_does_not_queue_behind_the_writer_lock(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a person's step takes only the action-id lock: another annotator's claim or
    finished tree (the writer lock) does not hold it up."""
    generate(pg_url, 2)
    monkeypatch.setenv("IDA_LOCK_TIMEOUT", "0.3")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Store(pg_url, command="ida hold").write():
            held.set()
            release.wait(5.0)

    waits: list[float] = []

    def busy(n: int) -> None:
        if n == 2:
            threading.Thread(target=hold, daemon=True).start()
            assert held.wait(10)
        if n == 4:
            release.set()

    term = AcceptingTerm(budget=6, before_key=busy)
    session = LabelSession(
        Store(pg_url), LabelOptions("sol", task=TASK, strategy="full"), term, ExpertModels()
    )
    session.start()
    session.run()
    waits = term.latencies[2:4]  # the steps given while the writer lock was held
    assert "the database is busy" not in "\n".join(term.screens)
    assert max(waits) < 3.0, waits
    check_store(pg_url, [{"name": "sol", "keys": 6}])
