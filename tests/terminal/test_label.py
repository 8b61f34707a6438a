"""`ida label` driven as a person drives it: the real program in a pseudo-terminal (pexpect), with
the database checked after each step; plus one in-process session with a stand-in ML and adversary
for what needs a model (suggestions, the adversary's pick, the Gumbel draws across a crash)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pexpect
import pytest

from ida_cli.label import LabelOptions, LabelSession
from ida_cli.store import Store
from ida_cli.tasks import get_task
from ida_cli.vocabulary import JSON, canonical
from tests.helpers import ROOT, Run, generate

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
POW = r"pow (\d+) (\d+)"


class Label:
    """One `ida label` in a pseudo-terminal; `expect` waits for a pattern in the screen text
    (escape codes removed) written since the last match."""

    def __init__(self, db: Path, *args: str, dims: tuple[int, int] = (30, 100)) -> None:
        env = {**os.environ, "IDA_DB": str(db), "NO_COLOR": "1", "TERM": "xterm", "LANG": "C.UTF-8"}
        env.pop("IDA_TRACEBACK", None)
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "ida_cli", "label", "--annotator", "alice", *args],
            env=env,
            cwd=str(ROOT),
            dimensions=dims,
            encoding="utf-8",
            timeout=30,
        )
        self.raw = ""
        self.pos = 0

    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            m = re.compile(pattern).search(self.text(), self.pos)
            if m:
                self.pos = m.end()
                return m
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {pattern!r} on screen; it shows:\n{self.text()[self.pos :][-3000:]}"
                )
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                if not re.search(pattern, self.text()[self.pos :]):
                    raise AssertionError(
                        f"the program ended before {pattern!r}:\n{self.text()[self.pos :][-3000:]}"
                    ) from None

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def line(self, text: str) -> None:
        self.child.send(text + "\r")

    def finish(self) -> int:
        """Wait for the program to end (reading what is left); its exit code."""
        try:
            self.child.expect(pexpect.EOF, timeout=40)
        finally:
            self.raw += self.child.before or ""
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def kill9(self) -> None:
        self.child.kill(signal.SIGKILL)
        self.child.close(force=True)


def query(db: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with Store(db).read() as con:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def actions(db: Path) -> list[dict[str, Any]]:
    cols = ("id", "tree_id", "node_id", "actor", "kind", "step", "result", "seconds", "supersedes", "note")
    rows = query(db, f"SELECT {', '.join(cols)}, created_at, session_id FROM actions ORDER BY id")
    out = []
    for r in rows:
        d = dict(zip(cols, r, strict=False))
        d["result"], d["note"] = json.loads(d["result"]), json.loads(d["note"] or "null")
        d["created_at"], d["session_id"] = r[-2], r[-1]
        out.append(d)
    return out


def sigma(label: Label) -> list[int]:
    """The permutation on screen (size 8: one block)."""
    m = re.search(r"σ\(x\)\s+((?:\d+ ?)+)", label.text())
    assert m, label.text()
    return [int(v) for v in m.group(1).split()]


# -- the pseudo-terminal tests -----------------------------------------------------------------------
def test_answer_primitives_and_decompose_with_bad_input_refused(ida: Run, db: Path) -> None:
    generate(ida, 1)
    lab = Label(db)
    m = lab.expect(r"fan-out  " + POW)
    x, k = int(m.group(1)), int(m.group(2))
    perm = sigma(lab)
    lab.expect(r"› ")
    # bad subquestions: unparseable, the question itself, three at once; nothing is stored
    lab.send("s")
    lab.expect("ask: ")
    lab.line("pow a b")
    lab.expect(r"X must be an integer, got 'a' — nothing was stored")
    lab.send("\x15")  # Ctrl-U clears the line
    lab.line(f"pow {x} {k}")
    lab.expect(r"is the question itself: asking it would loop")
    lab.send("\x15")
    lab.line(f"pow {x} 1 ; pow {x} 0 ; pow {x} 2")
    lab.expect(r"3 subquestions: a step asks one or two")
    assert actions(db) == []
    # decompose into two primitives; strategy full with no model: the person answers both
    lab.send("\x15")
    lab.line(f"pow {x} 1 ; pow {x} 0")
    lab.expect(rf"at: pow {x} {k} › pow {x} 1")
    lab.expect(rf"fan-out  pow {x} 1   primitive")
    lab.expect(rf"you answer pow {x} 0 after this one")
    [ask] = actions(db)
    assert (ask["kind"], ask["result"], ask["actor"], ask["tree_id"]) == (
        "fan_out",
        {"ask": [{"x": x, "k": 1}, {"x": x, "k": 0}]},
        "human:alice",
        None,
    )
    assert ask["note"]["node"] == {"x": x, "k": k} and ask["seconds"] > 0 and ask["created_at"] is not None
    # bad answers: out of range, empty; explained, nothing stored
    lab.send("a")
    lab.line("99")
    lab.expect(r"'99' is not a valid answer to 'pow \d+ 1': the answer is one item")
    lab.send("\x15")
    lab.line("")
    lab.expect(r"empty answer: type an answer")
    assert len(actions(db)) == 1
    lab.send("\x15")
    lab.line(str(perm[x]))
    lab.expect(rf"fan-out  pow {x} 0   primitive")
    lab.send("a")
    lab.line(str(x))
    # fan-in: every subanswer is shown
    lab.expect(r"fan-in  pow")
    lab.expect(rf"1\. pow {x} 1 → {perm[x]}\s+by you")
    lab.expect(rf"2\. pow {x} 0 → {x}\s+by you")
    lab.send("a")
    lab.line(str(perm[x]))
    lab.expect(
        r"no unlabelled training questions left for task permutation: make more with\s+"
        r"`ida questions generate\s+--task permutation"
    )
    assert lab.finish() == 0
    acts = actions(db)
    [(tree_id, nodes, calls, prims, answer, seconds)] = query(
        db, "SELECT id, nodes, overseer_calls, primitive_calls, answer, seconds FROM trees"
    )
    assert (nodes, calls, prims, json.loads(answer)) == (3, 4, 2, perm[x])
    assert [a["kind"] for a in acts] == ["fan_out", "fan_out", "fan_out", "fan_in"]
    assert all(a["tree_id"] == tree_id and a["node_id"] is not None for a in acts)
    assert seconds == pytest.approx(sum(a["seconds"] for a in acts))
    node_of = dict(query(db, "SELECT id, question FROM nodes"))
    assert [json.loads(node_of[a["node_id"]]) for a in acts] == [
        {"x": x, "k": k},
        {"x": x, "k": 1},
        {"x": x, "k": 0},
        {"x": x, "k": k},
    ]
    assert query(db, "SELECT status, tree_id FROM label_items") == [("done", tree_id)]
    assert query(db, "SELECT status FROM sessions") == [("done",)]
    assert query(db, "SELECT oracle, strategy, status, questions FROM rounds") == [
        ("human", "full", "done", 1)
    ]
    # nothing left: a new session says which command makes more, exit 2
    lab = Label(db)
    assert lab.finish() == 2
    assert "error: no unlabelled training questions left for task permutation: make more with" in lab.text()


def test_undo_flag_and_skip_append_records(ida: Run, db: Path) -> None:
    generate(ida, 2)
    lab = Label(db)
    m = lab.expect(r"fan-out  " + POW)
    x, k = int(m.group(1)), int(m.group(2))
    first = {"x": x, "k": k}
    lab.send("s")
    lab.line(f"pow {x} 1")
    lab.expect(rf"at: pow {x} {k} › pow {x} 1")
    # undo: back at the root, the ask superseded by an undo record
    lab.send("u")
    lab.expect(rf"at: pow {x} {k}\s")
    lab.expect(rf"undone: your ask pow {x} 1 at pow {x} {k}")
    ask, undo = actions(db)
    assert (undo["kind"], undo["supersedes"], undo["actor"]) == ("undo", ask["id"], "human:alice")
    # a flag with a reason; u takes the flag back
    lab.send("f")
    lab.expect("flag — reason")
    lab.line("looks odd")
    lab.expect("flagged for review")
    flag = actions(db)[-1]
    assert (flag["kind"], flag["result"], flag["note"]["node"]) == ("flag", {"flag": "looks odd"}, first)
    lab.send("u")
    lab.expect("flag removed")
    assert actions(db)[-1]["supersedes"] == flag["id"]
    # skip with a reason: the next question comes up
    lab.send("k")
    lab.expect("skip — reason")
    lab.line("too long")
    m = lab.expect(r"fan-out  " + POW)
    lab.expect(rf"skipped pow {x} {k}")
    second = {"x": int(m.group(1)), "k": int(m.group(2))}
    assert second != first
    skip = actions(db)[-1]
    items = query(db, "SELECT question_id, status FROM label_items ORDER BY position")
    assert (skip["kind"], skip["result"], skip["note"]["question"]) == (
        "skip",
        {"skip": "too long"},
        items[0][0],
    )
    assert [s for _, s in items] == ["skipped", "open"]
    # undo right after the skip: back to the skipped question, which is open again
    lab.send("u")
    lab.expect(rf"fan-out  pow {x} {k}")
    lab.expect(r"skip undone: back to the question you skipped")
    assert actions(db)[-1]["supersedes"] == skip["id"]
    assert [s for (s,) in query(db, "SELECT status FROM label_items ORDER BY position")] == [
        "open",
        "returned",
    ]
    lab.send("a")
    lab.line("3")
    lab.expect(rf"stored question pow {x} {k}: answer 3")
    lab.send("q")
    assert lab.finish() == 0
    acts = actions(db)
    answered = [a for a in acts if a["tree_id"] is not None]
    assert [(a["kind"], a["result"]) for a in answered] == [("fan_out", {"answer": 3})]
    # the undone ask stays as it was given, unlinked and superseded: nothing is overwritten
    [kept] = [a for a in acts if a["id"] == ask["id"]]
    assert (kept["result"], kept["tree_id"], kept["created_at"]) == (ask["result"], None, ask["created_at"])
    unlinked = [(a["kind"], a["supersedes"]) for a in acts if a["tree_id"] is None]
    assert unlinked == [
        ("fan_out", None),
        ("undo", ask["id"]),
        ("flag", None),
        ("undo", flag["id"]),
        ("skip", None),
        ("undo", skip["id"]),
    ]
    assert query(db, "SELECT count(*) FROM trees") == [(1,)]


def test_quit_and_kill_9_resume_at_the_same_place(ida: Run, db: Path) -> None:
    generate(ida, 3, seed=4)
    lab = Label(db)
    m = lab.expect(r"fan-out  " + POW)
    x, k = int(m.group(1)), int(m.group(2))
    perm = sigma(lab)
    lab.send("s")
    lab.line(f"pow {x} 1")
    lab.expect(rf"fan-out  pow {x} 1")
    # while the person thinks, the database is free: `ida status` from another terminal works
    r = subprocess.run(
        [sys.executable, "-m", "ida_cli", "status", "--json"],
        env={**os.environ, "IDA_DB": str(db), "IDA_LOCK_TIMEOUT": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["counts"]["actions"] == 1
    lab.send("q")
    assert lab.finish() == 0
    assert "saved; resume with `ida label --annotator alice`" in lab.text()
    assert query(db, "SELECT status FROM sessions") == [("quit",)]
    assert query(db, "SELECT status FROM rounds") == [("paused",)]
    # resume: the same node of the same tree
    lab = Label(db)
    lab.expect(rf"at: pow {x} {k} › pow {x} 1")
    lab.expect(r"resumed where you were: 1 of your steps replayed")
    lab.send("a")
    lab.line(str(perm[x]))
    lab.expect(rf"fan-in  pow {x} {k}")
    lab.expect(rf"1\. pow {x} 1 → {perm[x]}")
    before = actions(db)
    assert [a["kind"] for a in before] == ["fan_out", "fan_out"]
    # kill -9 while an answer is being typed: only that line is lost
    lab.send("a")
    lab.send("5")
    lab.expect(rf"answer pow {x} {k}: 5")
    lab.kill9()
    assert actions(db) == before
    assert query(db, "SELECT status FROM sessions ORDER BY started_at") == [("quit",), ("open",)]
    lab = Label(db)
    lab.expect(rf"fan-in  pow {x} {k}")
    lab.expect(rf"1\. pow {x} 1 → {perm[x]}")
    lab.expect(r"resumed where you were: 2 of your steps replayed")
    # the killed session is closed as such, the round resumed, not duplicated
    assert query(db, "SELECT status FROM sessions ORDER BY started_at") == [("quit",), ("killed",), ("open",)]
    assert query(db, "SELECT count(*), min(status) FROM rounds") == [(1, "running")]
    assert query(db, "SELECT count(*) FROM label_items") == [(1,)]
    lab.send("a")
    lab.line("6")
    lab.expect(rf"stored question pow {x} {k}: answer 6 \(3 calls")
    lab.send("q")
    assert lab.finish() == 0
    acts = actions(db)
    assert [(a["kind"], a["result"]) for a in acts] == [
        ("fan_out", {"ask": [{"x": x, "k": 1}]}),
        ("fan_out", {"answer": perm[x]}),
        ("fan_in", {"answer": 6}),
    ]
    assert len({a["session_id"] for a in acts}) == 3 and all(a["tree_id"] == 1 for a in acts)
    [(nodes, answer)] = query(db, "SELECT nodes, answer FROM trees")
    assert (nodes, json.loads(answer)) == (2, 6)


def test_not_a_terminal_and_too_small(ida: Run, db: Path) -> None:
    generate(ida, 1)
    r = subprocess.run(
        [sys.executable, "-m", "ida_cli", "label"],
        env={**os.environ, "IDA_DB": str(db)},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("error: ida label needs a terminal: stdin is not one")
    lab = Label(db, dims=(10, 40))
    assert lab.finish() == 2
    assert "the terminal is 40x10; ida label needs at least 80x24: enlarge the window" in re.sub(
        r"\s+", " ", lab.text()
    )
    assert query(db, "SELECT count(*) FROM sessions") == [(0,)]


# -- in-process: a stand-in ML and adversary, the adversary's pick, Gumbel draws across a crash -------
class Crash(BaseException):
    """The process dies here (like kill -9: nothing after the last commit is kept)."""


class FakeTerm:
    def __init__(self, keys: Callable[[], str]) -> None:
        self.keys = keys
        self.screens: list[str] = []

    def size(self) -> tuple[int, int]:
        return 100, 30

    def draw(self, screen: str) -> None:
        self.screens.append(screen)

    def read_key(self) -> str:
        return self.keys()

    def read_line(
        self, prompt: str, initial: str = "", redraw: Callable[[], None] | None = None
    ) -> str | None:
        raise AssertionError("this test only accepts suggestions")


WILDCARD = get_task("wildcard")


class FakeML:
    """ML that imitates the scripted expert and answers every subquestion 1."""

    task, version = "wildcard", 1

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        return [(1, -0.5) for _ in items]

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Any, float]]:
        return [(WILDCARD.expert_fan_out(c, q), -0.1) for c, q in items]

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Any]]) -> list[tuple[Any, float]]:
        return [(WILDCARD.expert_fan_in(c, q, t), -0.1) for c, q, t in items]


class FakeScorer:
    def score(self, items: Sequence[tuple[JSON, JSON, JSON]], logps: object = None) -> list[float]:
        return [-(zlib.crc32(canonical(q).encode()) % 100) / 100 for _, q, _ in items]

    def score_steps(self, mode: str, items: Sequence[Any]) -> list[float]:
        return [-0.25 for _ in items]


class FakeModels:
    def current(self, task: str) -> tuple[int | None, int | None]:
        return 1, 1

    def load(self, task: str, model: int | None, adversary: int | None) -> tuple[Any, Any]:
        assert (model, adversary) == (1, 1)
        return FakeML(), FakeScorer()


def _session(db: Path, keys: Callable[[], str]) -> tuple[LabelSession, FakeTerm]:
    term = FakeTerm(keys)
    session = LabelSession(Store(db), LabelOptions("bob", limit=1), term, FakeModels())
    session.start()
    return session, term


def _accept(n: int | None) -> Callable[[], str]:
    left = [n]

    def key() -> str:
        if left[0] is not None:
            if left[0] == 0:
                raise Crash()
            left[0] -= 1
        return "y"

    return key


def _nodes(db: Path) -> list[tuple[Any, ...]]:
    return query(db, "SELECT question, answer, actor, recursed, score, gumbel FROM nodes ORDER BY id")


def test_adversary_pick_and_same_draws_after_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ida_cli.cli import app

    dbs = [tmp_path / "a.duckdb", tmp_path / "b.duckdb"]
    for db in dbs:
        monkeypatch.setenv("IDA_DB", str(db))
        args = ["questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "3"]
        assert CliRunner().invoke(app, args).exit_code == 0
    # uninterrupted: the person accepts every suggestion
    session, term = _session(dbs[0], _accept(None))
    assert session.strategy == "adversary"
    summary = session.run()
    assert (summary.labelled, summary.status) == (1, "done")
    whole = _nodes(dbs[0])
    assert any(g is not None for *_, g in whole), "two subquestions: a Gumbel-max pick"
    screens = ANSI.sub("", "\n".join(term.screens))
    assert "ML suggests: ask sum" in screens and "(adversary S -0.25)" in screens
    assert "the adversary picked this one of your two subquestions" in screens
    assert "ML answers the other" in screens
    acts = actions(dbs[0])
    assert acts and all(a["note"]["accepted"] and a["tree_id"] == 1 for a in acts)
    # the same session dies after two steps, and resumes
    session, _ = _session(dbs[1], _accept(2))
    with pytest.raises(Crash):
        session.run()
    assert [a["tree_id"] for a in actions(dbs[1])] == [None, None]
    session, term = _session(dbs[1], _accept(None))
    assert session.run().labelled == 1
    assert "resumed where you were: 2 of your steps replayed" in ANSI.sub("", "\n".join(term.screens))
    assert _nodes(dbs[1]) == whole
    assert [(a["kind"], a["result"]) for a in actions(dbs[1])] == [(a["kind"], a["result"]) for a in acts]
