"""The labelling session: a person as the overseer H of the walker, crash-safe by replay.

See the package docstring (ida_cli/label/__init__.py) for the design; this module holds the
session loop (`LabelSession`), the overseer it hands the walker (`HumanOverseer`), and the two thin
wrappers that let the screen show what ML answered and what the strategy picked."""

from __future__ import annotations

import contextlib
import os
import statistics
import textwrap
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from adversary.select import Choice, Strategy
from ida_cli.amplify import Scorer, Walker, require
from ida_cli.errors import (
    DatabaseBusy,
    DatabaseUnreachable,
    IdaError,
    Interrupted,
    NoDatabase,
    ParseError,
    UsageError,
)
from ida_cli.label import records as lrec
from ida_cli.label.screen import (
    ASK_HINTS,
    HELP,
    KEY_HINTS,
    LINE_HINTS,
    MIN_COLUMNS,
    MIN_ROWS,
    Progress,
    View,
    context_lines,
    context_pages,
    render,
    render_text,
    too_small,
)
from ida_cli.label.term import Term
from ida_cli.ml import ML
from ida_cli.overseer import step_json, valid_step
from ida_cli.store import Store, records
from ida_cli.store.db import now
from ida_cli.tasks import get_task
from ida_cli.tasks.base import JSON, UNKNOWN, Answer, Ask, Step, Task, Transcript, canonical
from ida_cli.tree import Tree

MAX_SUBQUESTIONS = 2
RETRY_SECONDS = 1.0  # while the database server is unreachable, try again this often
T = TypeVar("T")
PICKERS = {"adversary": "the adversary", "bernoulli": "the adversary", "uncertainty": "ML's uncertainty"}


# -- control flow out of the walker ----------------------------------------------------------------
class _Quit(Exception):
    pass


class _Skip(Exception):
    pass


class _Reclaimed(Exception):
    """The item was given to another annotator while this session was away (its claim went stale)."""


class _Restart(Exception):
    """Walk the item again from its root, replaying what is stored (after an undo)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- options and models ---------------------------------------------------------------------------
@dataclass
class LabelOptions:
    annotator: str
    task: str | None = None
    strategy: str | None = None  # None: the open round's, else adversary with a model, else full
    limit: int | None = None  # questions (finished or skipped) this session
    seed: int = 0  # a new round's seed (a resumed round keeps its own)
    temperature: float = 1.0
    overlap: int | None = None  # annotators each question is served to (None: the round's, else 1)


class Models(Protocol):
    """Where the session gets ML and the adversary: the current versions, and given versions."""

    def current(self, task: str) -> tuple[int | None, int | None]: ...

    def load(
        self, task: str, model: int | None, adversary: int | None
    ) -> tuple[ML | None, Scorer | None]: ...


class StoreModels:
    """The models stored beside the database, loaded once per version."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[int | None, int | None], tuple[ML | None, Scorer | None]] = {}

    def current(self, task: str) -> tuple[int | None, int | None]:
        from ida_cli.versions import latest

        with self.store.read() as con:
            model = latest(con, "model", task)
            adversary = latest(con, "adversary", task) if model else None
        return (model["version"] if model else None, adversary["version"] if adversary else None)

    def load(self, task: str, model: int | None, adversary: int | None) -> tuple[ML | None, Scorer | None]:
        key = (model, adversary)
        if key not in self._cache:
            from ida_cli.versions import load_model

            ml = load_model(self.store, task, version=model) if model is not None else None
            scorer = _load_adversary(self.store, task, adversary, ml) if adversary and ml else None
            self._cache[key] = (ml, scorer)
        return self._cache[key]


def _load_adversary(store: Store, task: str, version: int, ml: Any) -> Scorer:
    """Adversary `version` (as adversarial.load_scorer loads the latest one)."""
    from pathlib import Path

    from adversary.net import AdvNet, Calibrator
    from ida_cli.adversarial import AdvScorer
    from ida_cli.model.net import ModelConfig
    from ida_cli.model.train import load_checkpoint
    from ida_cli.versions import latest

    with store.read() as con:
        info = latest(con, "adversary", task, version)
        if info is None:
            raise UsageError(f"adversary v{version} is gone: see `ida status` for the versions")
        judged = con.execute(
            "SELECT model_version FROM versions WHERE kind = 'adversary' AND version = ?", [version]
        ).fetchone()[0]
    payload = load_checkpoint(Path(info["checkpoint"]), info["sha256"])
    net = AdvNet(ModelConfig(**payload["config"]))
    net.load_state_dict(payload["model"])
    return AdvScorer(net, Calibrator(payload["calib_x"], payload["calib_y"]), ml, version, judged)


# -- what the screen learns from the walker --------------------------------------------------------
class _SeenML:
    """ML as the walker uses it, reporting its answers to subquestions to the overseer."""

    def __init__(self, ml: ML, seen: Callable[[list[tuple[JSON, float]]], None]) -> None:
        self.inner, self.seen = ml, seen
        self.task, self.version = ml.task, ml.version

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        out = list(self.inner.answer(items))
        self.seen(out)
        return out

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        return self.inner.fan_out(items)

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        return self.inner.fan_in(items)


class _SeenStrategy:
    """The round's strategy, reporting each choice (and the scores behind it) to the overseer."""

    def __init__(self, inner: Strategy, seen: Callable[[Choice, list[float | None]], None]) -> None:
        self.inner, self.seen, self.name = inner, seen, inner.name

    def choose(
        self, k: int, logps: Sequence[float | None], scores: Sequence[float | None], rng: np.random.Generator
    ) -> Choice:
        choice = self.inner.choose(k, logps, scores, rng)
        self.seen(choice, list(logps) if self.name == "uncertainty" else list(scores))
        return choice


@dataclass
class _Frame:
    """A node on the walker's current path."""

    question: JSON
    fan_ins: int = 0
    asked: tuple[JSON, ...] = ()
    ml_answers: list[JSON] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # who answered each transcript entry
    pending: deque[tuple[str, list[str]]] = field(default_factory=deque)  # recursed children's notes
    decision: list[str] = field(default_factory=list)  # what was decided about this node's siblings


class HumanOverseer:
    """The Overseer protocol for a person: replays the item's stored steps in order, then asks."""

    def __init__(self, session: LabelSession) -> None:
        self.session = session
        self.actor = lrec.actor_of(session.opts.annotator)
        self.stack: list[_Frame] = []
        self.replay: deque[lrec.StoredAction] = deque()
        self.taken: list[int] = []  # action ids of this walk's steps, in the walker's order

    def begin(self, replay: list[lrec.StoredAction]) -> None:
        self.stack, self.replay, self.taken = [], deque(replay), []

    # the walker's calls
    def fan_out(self, context: JSON, question: JSON) -> Step:
        parent = self.stack[-1] if self.stack else None
        frame = _Frame(question)
        if parent is not None and parent.pending and parent.pending[0][0] == canonical(question):
            frame.decision = parent.pending.popleft()[1]
        self.stack.append(frame)
        return self._step("fan_out", context, question, [])

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        frame = self.stack[-1]
        frame.fan_ins += 1
        frame.decision = []
        return self._step("fan_in", context, question, transcript)

    def _step(self, kind: str, context: JSON, question: JSON, transcript: Transcript) -> Step:
        frame = self.stack[-1]
        y = self._replayed(kind, question, transcript)
        if y is None:
            y = self.session.live(self, kind, context, question, transcript)
        if isinstance(y, Ask):
            frame.asked, frame.ml_answers = y.questions, []
        else:
            self.stack.pop()
        return y

    def _replayed(self, kind: str, question: JSON, transcript: Transcript) -> Step | None:
        if not self.replay:
            return None
        act = self.replay[0]
        note = act.note
        fits = (
            act.kind == kind
            and canonical(note.get("node")) == canonical(question)
            and (kind == "fan_out" or canonical(note.get("transcript")) == canonical(_pairs(transcript)))
        )
        if not fits:
            self.session.void(list(self.replay))
            self.replay.clear()
            return None
        self.replay.popleft()
        self.taken.append(act.id)
        result = act.result
        return Answer(result["answer"]) if "answer" in result else Ask(tuple(result["ask"]))

    # what the walker decided at the current node
    def seen_answers(self, answers: list[tuple[JSON, float]]) -> None:
        if self.stack:
            self.stack[-1].ml_answers = [a for a, _ in answers]

    def seen_choice(self, choice: Choice, scores: list[float | None]) -> None:
        if not self.stack:
            return
        frame, task = self.stack[-1], self.session.task
        asked, ml = frame.asked, frame.ml_answers
        k = len(choice.recurse)
        if len(asked) != k:
            return

        def s(i: int) -> str:
            v = scores[i] if i < len(scores) else None
            return "" if v is None else f" (S {v:+.2f})"

        for i in range(k):
            if choice.recurse[i]:
                frame.sources.append("by you")
            else:
                frame.sources.append("by ML" + s(i))
        picker = PICKERS.get(self.session.strategy, f"the {self.session.strategy} rule")
        for i in range(k):
            if not choice.recurse[i]:
                continue
            lines = []
            if k == 2 and sum(choice.recurse) == 1:
                lines.append(f"{picker} picked this one of your two subquestions" + s(i))
            for j in range(k):
                if j == i:
                    continue
                qt = task.question_text(asked[j])
                if not choice.recurse[j]:
                    a = ml[j] if j < len(ml) else UNKNOWN
                    lines.append(f"ML answers the other, {qt} → {task.answer_text(asked[j], a)}" + s(j))
                elif j > i:
                    lines.append(f"you answer {qt} after this one")
            frame.pending.append((canonical(asked[i]), lines))


def _pairs(transcript: Transcript) -> list[list[JSON]]:
    return [[q, a] for q, a in transcript]


def describe(task: Task, question: JSON, result: JSON) -> str:
    """A stored step {"answer": A} / {"ask": [...]} (or a Step) in words."""
    if isinstance(result, Answer | Ask):
        result = step_json(result)
    if "answer" in result:
        return f"answer {task.answer_text(question, result['answer'])}"
    return "ask " + " ; ".join(task.question_text(q) for q in result["ask"])


class _Heartbeat:
    """Keeps the session's `heartbeat_at` fresh from a background thread while the person thinks,
    so that its claim never looks stale to other annotators; errors (server away) are ignored."""

    def __init__(self, store: Store, session_id: str) -> None:
        self.store, self.session_id = store, session_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ida-label-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        every = lrec.heartbeat_every()
        while not self._stop.wait(every):
            with contextlib.suppress(IdaError), self.store.write() as con:
                lrec.heartbeat(con, self.session_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


# -- the session -------------------------------------------------------------------------------------
@dataclass
class Summary:
    round_id: int
    task: str
    labelled: int = 0
    skipped: int = 0
    calls: int = 0
    status: str = "quit"
    message: str = ""


class LabelSession:
    def __init__(self, store: Store, opts: LabelOptions, term: Term, models: Models | None = None) -> None:
        self.store, self.opts, self.term = store, opts, term
        self.models: Models = models or StoreModels(store)
        self.actor = lrec.actor_of(opts.annotator)
        self.session_id = uuid.uuid4().hex
        self.message: str | None = None
        self.error = False
        self.calls = 0
        self.seconds: list[float] = []
        self.progress = Progress()
        self.counted = 0  # questions finished or skipped this session (for --limit)
        self.ml: ML | None = None
        self.scorer: Scorer | None = None
        self.overlap = 1
        self._heartbeat: _Heartbeat | None = None

    # -- start and end ----------------------------------------------------------------------------
    def start(self) -> None:
        """Find or make the round, check there is work, and open the session (one transaction)."""
        if not self.store.exists():
            raise NoDatabase(f"no database at {self.store.display}: run `ida init` (or pass --db)")
        from ida_cli.rounds import _default_task, make_strategy

        with self.store.read() as con:
            rounds = lrec.open_rounds(con, self.opts.annotator)
            task_name = self.opts.task or (rounds[0].task if rounds else _default_task(con))
        self.task = get_task(task_name)
        model, adversary = self.models.current(task_name)
        mine = [r for r in rounds if r.task == task_name]
        if self.opts.strategy is not None:
            mine = [r for r in mine if r.strategy == self.opts.strategy]
        rnd = mine[0] if mine else None
        if rnd is not None:
            strategy, seed, temperature = rnd.strategy, rnd.seed, float(rnd.params.get("temperature", 1.0))
        else:
            strategy = self.opts.strategy or ("adversary" if model and adversary else "full")
            seed, temperature = self.opts.seed, self.opts.temperature
        self.strategy = strategy
        require(strategy, model is not None, adversary is not None)
        self.walk_strategy = make_strategy(strategy, None, temperature)
        overlap = self.opts.overlap or int((rnd.params.get("overlap") if rnd else None) or 1)
        self.overlap = overlap
        with self.store.write() as con:
            live = lrec.claim_sessions(con, self.opts.annotator)
            if live is not None:
                pid, host = live
                where = f"pid {pid}" if host == lrec.socket.gethostname() else f"pid {pid} on {host}"
                raise UsageError(
                    f"{self.opts.annotator} is already labelling in another `ida label` ({where}): "
                    "finish there, or use another --annotator"
                )
            has_open = rnd is not None and lrec.open_item(con, rnd.id) is not None
            stale = lrec.stale_annotators(con, self.opts.annotator)
            if not has_open and not lrec.available(con, task_name, self.opts.annotator, overlap, stale):
                raise UsageError(self.no_questions(task_name))
            records.create_session(con, self.session_id, "label", self.actor, os.getpid())
            if rnd is None:
                params = {
                    "annotator": self.opts.annotator,
                    "temperature": temperature,
                    "alpha": None,
                    "p": None,
                    "model_version": model,
                    "adversary_version": adversary,
                    "overlap": overlap,
                }
                rnd = lrec.create_round(con, self.session_id, task_name, strategy, seed, params)
            else:
                if rnd.params.get("overlap", 1) != overlap:
                    rnd.params["overlap"] = overlap
                    lrec.set_round_params(con, rnd.id, rnd.params)
                lrec.set_round_status(con, rnd.id, "running")
        self.round = rnd
        self.summary = Summary(rnd.id, task_name)
        self._heartbeat = _Heartbeat(self.store, self.session_id)
        self._heartbeat.start()

    def no_questions(self, task: str) -> str:
        return (
            f"no unlabelled training questions left for task {task}: make more with "
            f"`ida questions generate --task {task} --size N --count C --seed S`"
        )

    def end(self, status: str, round_status: str) -> None:
        """Close the session and pause or finish the round. With the server away this is given up
        (the session then looks stale after the claim timeout, and the round resumes as usual)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self.summary.status = status
        with contextlib.suppress(DatabaseUnreachable), self.store.write() as con:
            records.end_session(con, self.session_id, status)
            lrec.set_round_status(con, self.round.id, round_status)

    def run(self) -> Summary:
        """The session after `start()`: question after question until quit, --limit or no more."""
        try:
            status, round_status = self._loop()
        except (_Quit, EOFError):
            self.end("quit", "paused")
            self.summary.message = f"saved; resume with `ida label --annotator {self.opts.annotator}`"
            return self.summary
        except KeyboardInterrupt:
            self.end("interrupted", "paused")
            raise Interrupted(
                "interrupted: every step you gave is saved; run `ida label` to resume where you were"
            ) from None
        except BaseException:
            with contextlib.suppress(Exception):  # the error that stopped us is the one to report
                self.end("failed", "paused")
            raise
        finally:
            if self._heartbeat is not None:
                self._heartbeat.stop()
        self.end(status, round_status)
        return self.summary

    def _loop(self) -> tuple[str, str]:
        while True:
            if self.opts.limit is not None and self.counted >= self.opts.limit:
                self.summary.message = f"--limit {self.opts.limit} reached"
                return "done", "paused"
            item = self._next_item()
            if item is None:
                self.summary.message = self.no_questions(self.task.name)
                return "done", "done"
            try:
                self._label(item)
            except _Restart as r:
                self.message, self.error = r.message, False
            except _Skip:
                self.counted += 1
                self.summary.skipped += 1
            except _Reclaimed:
                self.message, self.error = self._reclaimed_message(item), True

    def _reclaimed_message(self, item: lrec.Item) -> str:
        return (
            f"question {item.question_id} was given to another annotator while this session was away "
            f"(more than {lrec.claim_timeout():.0f} s unseen); your steps on it are kept"
        )

    def _next_item(self) -> lrec.Item | None:
        model, adversary = self._retrying(
            "nothing is lost: the next question comes as soon as the database answers",
            lambda: self.models.current(self.task.name),
        )

        def take() -> tuple[lrec.Item | None, int | None]:
            with self.store.read() as con:  # this session alone works on its round
                item = lrec.open_item(con, self.round.id)
            if item is not None:
                return item, None
            with self.store.write() as con:  # the claim: under the writer lock, as short as it can be
                item, _, left = lrec.pick_item(
                    con, self.round, self.opts.annotator, model, adversary, self.overlap
                )
            return item, left

        def progress(item: lrec.Item | None, left: int | None) -> tuple[int, dict[str, Any]]:
            with self.store.read() as con:
                if left is None:
                    stale = lrec.stale_annotators(con, self.opts.annotator, kill_dead=False)
                    pool = lrec.available(con, self.task.name, self.opts.annotator, self.overlap, stale)
                    left = len(pool) + (item is not None)
                return left, lrec.round_counts(con, self.round.id)

        what = "nothing is lost: the next question comes as soon as the database answers"
        item, picked = self._retrying(what, take)
        left, counts = self._retrying(what, lambda: progress(item, picked))
        if self.opts.limit is not None:
            left = min(left, self.opts.limit - self.counted)
        self.seconds = counts["seconds"]
        self.progress = Progress(done=counts["done"], left=left, calls=self.calls)
        self._calls_per_tree = counts["calls_per_tree"]
        self._update_times()
        return item

    def _update_times(self) -> None:
        p = self.progress
        p.calls = self.calls
        p.median = statistics.median(self.seconds) if self.seconds else None
        per_tree = self._calls_per_tree
        p.eta = (
            None if p.median is None or per_tree is None or p.left is None else p.left * per_tree * p.median
        )

    # -- one question -------------------------------------------------------------------------------
    def _label(self, item: lrec.Item) -> None:
        self.item = item

        def load() -> tuple[dict[str, Any], list[lrec.StoredAction]]:
            with self.store.read() as con:
                [row] = records.load_questions(con, [item.question_id])
                return row, lrec.live_actions(con, item.id)

        row, replay = self._retrying(
            "nothing is lost: the question comes as soon as the database answers", load
        )
        self.row = row
        try:
            self.ml, self.scorer = self._retrying(
                "nothing is lost: the question comes as soon as the database answers",
                lambda: self.models.load(self.task.name, item.model_version, item.adversary_version),
            )
        except IdaError as e:  # the pinned versions are gone: the current ones (replay checks the rest)
            self.ml, self.scorer = self._retrying(
                "nothing is lost: the question comes as soon as the database answers",
                lambda: self.models.load(self.task.name, *self.models.current(self.task.name)),
            )
            self.message, self.error = f"{e}; going on with the current model", True
        overseer = HumanOverseer(self)
        overseer.begin(replay)
        if replay and self.message is None:
            self.message = f"resumed where you were: {len(replay)} of your steps replayed"
        walker = Walker(
            self.task,
            overseer,
            _SeenStrategy(self.walk_strategy, overseer.seen_choice),
            self.round.seed,
            ml=_SeenML(self.ml, overseer.seen_answers) if self.ml is not None else None,
            scorer=self.scorer,
        )
        self._context_cache: dict[int, list[str]] = {}
        tree = walker.walk(row["context"], row["question"], row["id"])
        self._store_tree(tree, overseer.taken)

    def _store_tree(self, tree: Tree, taken: list[int]) -> None:
        if len(taken) != len(tree.actions):
            raise RuntimeError(f"{len(tree.actions)} overseer steps but {len(taken)} stored ones")
        actions, tree.actions = tree.actions, []
        tree.round_id, tree.context_id = self.round.id, self.row["context_id"]
        item = self.item

        def store() -> str | None:
            with self.store.write() as con:
                status = lrec.item_status(con, item.id)
                if status != "open":  # stored by an attempt whose reply was lost, or reclaimed
                    return status
                tree.id = 0  # fresh ids on every attempt (a failed one rolled back)
                tree.seconds = lrec.item_seconds(con, item.id)
                records.write_trees(con, [tree], None)
                lrec.link_actions(
                    con, [(aid, tree.id, a.node.id) for aid, a in zip(taken, actions, strict=True)]
                )
                lrec.finish_item(con, item, tree.id, tree.seconds)
                return None

        status = self._retrying(
            "your answers are stored; the finished tree is stored as soon as the database answers", store
        )
        if status == "done":
            with self.store.read() as con:
                tree.id = int(
                    con.execute("SELECT tree_id FROM label_items WHERE id = ?", [item.id]).fetchone()[0]
                )
        elif status is not None:
            raise _Reclaimed()
        self.counted += 1
        self.summary.labelled += 1
        q = self.task.question_text(self.row["question"])
        self.message = (
            f"stored question {q}: answer {self.task.answer_text(self.row['question'], tree.root.answer)} "
            f"({tree.overseer_calls} calls, tree {tree.id})"
        )
        self.error = False

    # -- records ------------------------------------------------------------------------------------
    def _note(self, **extra: Any) -> dict[str, Any]:
        return {"round": self.round.id, "item": self.item.id, "question": self.item.question_id, **extra}

    def void(self, stale: list[lrec.StoredAction]) -> None:
        """Steps the replayed tree no longer reaches (the model's answers changed): superseded by a
        `void` record each, never deleted."""

        def store() -> None:
            with self.store.write() as con:
                for act in stale:
                    lrec.add_action(
                        con,
                        session_id=self.session_id,
                        actor=self.actor,
                        kind="void",
                        step=act.step,
                        primitive=False,
                        result={"void": act.id},
                        at=now(),
                        seconds=0.0,
                        note=self._note(reason="the tree no longer reaches this step on replay"),
                        supersedes=act.id,
                    )

        self._retrying("nothing is lost: your steps are stored", store)
        self.message = (
            f"{len(stale)} earlier step(s) no longer fit this tree (ML's answers changed) and were set "
            "aside; go on from here"
        )
        self.error = True

    def _record(
        self, kind: str, result: JSON, seconds: float, status: str | None = None, **note: Any
    ) -> None:
        """A skip or flag record (with the item's new status, for a skip), stored exactly once even
        when the server goes away around the commit."""
        token, at, item = uuid.uuid4().hex, now(), self.item
        retried: list[bool] = []

        def store() -> None:
            with self.store.write() as con:
                if not retried or lrec.action_by_token(con, item.id, token) is None:
                    lrec.add_action(
                        con,
                        session_id=self.session_id,
                        actor=self.actor,
                        kind=kind,
                        step=0,
                        primitive=False,
                        result=result,
                        at=at,
                        seconds=seconds,
                        note=self._note(token=token, **note),
                    )
                if status is not None and lrec.item_status(con, item.id) == "open":
                    lrec.set_item_status(con, item.id, status)

        self._retrying(
            f"your {kind} is kept and will be stored as soon as the database answers",
            store,
            on_retry=lambda: retried.append(True),
        )

    def _commit_step(
        self,
        kind: str,
        step: int,
        primitive: bool,
        y: Step,
        seconds: float,
        note: dict[str, Any],
        question: JSON,
    ) -> tuple[int, str | None]:
        """Store the person's step in its own transaction, before the walker sees it; while the
        server is away the screen says so and the step waits here, and it is stored exactly once
        (a token in its note tells whether an attempt whose reply was lost did commit). Returns the
        action id and the item's status (not open: the question was reclaimed meanwhile)."""
        token, at = uuid.uuid4().hex, now()
        item = self.item

        def store() -> tuple[int, str | None]:
            with self.store.write(writer_lock=False) as con:  # appends one action: see Store.write
                aid = lrec.action_by_token(con, item.id, token) if retried else None
                if aid is None:
                    aid = lrec.add_action(
                        con,
                        session_id=self.session_id,
                        actor=self.actor,
                        kind=kind,
                        step=step,
                        primitive=primitive,
                        result=step_json(y),
                        at=at,
                        seconds=seconds,
                        note=self._note(token=token, **note),
                    )
                return aid, lrec.item_status(con, item.id)

        retried: list[bool] = []
        step_text = describe(self.task, question, y)
        what = f"your {step_text} is kept and will be stored as soon as the database answers"
        return self._retrying(what, store, on_retry=lambda: retried.append(True))

    def _retrying(self, what: str, fn: Callable[[], T], on_retry: Callable[[], None] | None = None) -> T:
        """`fn()` (short transactions), tried again every RETRY_SECONDS while the database server is
        unreachable or another writer holds the database past IDA_LOCK_TIMEOUT, with a screen that
        says so and what is kept. Ctrl-C gives up (exit 130)."""
        attempt = 0
        while True:
            try:
                return fn()
            except (DatabaseUnreachable, DatabaseBusy) as e:
                attempt += 1
                self._outage(str(e), what, attempt, busy=isinstance(e, DatabaseBusy))
                if on_retry is not None:
                    on_retry()
                time.sleep(RETRY_SECONDS)

    def _outage(self, error: str, what: str, attempt: int, busy: bool = False) -> None:
        columns, rows = self.term.size()
        width = max(columns - 1, 20)
        lines = [
            "ida label · the database is busy"
            if busy
            else "ida label · the database server cannot be reached",
            "",
            *textwrap.wrap(error, width),
            "",
            *textwrap.wrap(what + ".", width),
            "",
            f"trying again every {RETRY_SECONDS:.0f} s (attempt {attempt}) · Ctrl-C quits: "
            "everything stored so far is kept",
        ]
        footer = "waiting for the database…" if busy else "waiting for the database server…"
        self.term.draw(render_text(lines, columns, rows, footer))

    def _undo(self, seconds: float) -> str:
        """Supersede the person's last action in this question (or the skip just before it)."""
        task, item, token, at = self.task, self.item, uuid.uuid4().hex, now()
        found: list[lrec.StoredAction] = []  # the target, once an attempt has chosen it
        retried: list[bool] = []

        def store() -> str | None:
            with self.store.write() as con:
                if retried and found and lrec.action_by_token(con, item.id, token) is not None:
                    return None  # the attempt whose reply was lost did commit
                found.clear()
                acts = lrec.live_actions(con, item.id, ("fan_out", "fan_in", "flag"))
                target: lrec.StoredAction | None = acts[-1] if acts else None
                prev = None
                if target is None:
                    prev = lrec.previous_item(con, item)
                    skips = (
                        lrec.live_actions(con, prev.id, ("skip",))
                        if prev and prev.status == "skipped"
                        else []
                    )
                    target = skips[-1] if skips else None
                if target is None:
                    return "nothing to undo in this question (finished questions stay as they are stored)"
                # the skipped question comes back only if it has a free slot
                if (
                    target.kind == "skip"
                    and prev is not None
                    and not lrec.claim(con, prev.question_id, prev.id, self.opts.annotator, self.overlap)
                ):
                    return (
                        f"cannot undo the skip: question {prev.question_id} is now being labelled "
                        "by another annotator"
                    )
                found.append(target)
                lrec.add_action(
                    con,
                    session_id=self.session_id,
                    actor=self.actor,
                    kind="undo",
                    step=target.step,
                    primitive=False,
                    result={"undo": target.id},
                    at=at,
                    seconds=seconds,
                    note=self._note(undone=target.kind, token=token),
                    supersedes=target.id,
                )
                if target.kind == "skip" and prev is not None:
                    lrec.set_item_status(con, prev.id, "open")
                    lrec.set_item_status(con, item.id, "returned")
                return None

        refused = self._retrying(
            "your undo is kept and will be stored as soon as the database answers",
            store,
            on_retry=lambda: retried.append(True),
        )
        if refused is not None:
            return refused
        target = found[0]
        if target.kind == "flag":
            return "flag removed"
        if target.kind == "skip":
            self.counted = max(self.counted - 1, 0)
            self.summary.skipped = max(self.summary.skipped - 1, 0)
            raise _Restart("skip undone: back to the question you skipped")
        node = target.note.get("node")
        raise _Restart(f"undone: your {describe(task, node, target.result)} at {task.question_text(node)}")

    # -- the screen ---------------------------------------------------------------------------------
    def _view(
        self, overseer: HumanOverseer, kind: str, context: JSON, question: JSON, transcript: Transcript
    ) -> View:
        task, frame = self.task, overseer.stack[-1]
        columns, _ = self.term.size()
        if columns not in self._context_cache:
            self._context_cache[columns] = context_lines(task, context, columns)
        title = f"ida label · {task.name} · {self.opts.annotator} · round {self.round.id} · {self.strategy}"
        if self.ml is None:
            title += " · no model: pure HCH"
        by = frame.sources
        return View(
            title=title,
            progress=self.progress,
            breadcrumb=[task.question_text(f.question) for f in overseer.stack],
            context=self._context_cache[columns],
            kind=kind,
            question=task.question_text(question),
            note="primitive: answer it from the facts in view"
            if task.is_primitive(context, question)
            else "",
            decision=frame.decision,
            transcript=[
                (task.question_text(q), task.answer_text(q, a), by[i] if i < len(by) else "")
                for i, (q, a) in enumerate(transcript)
            ],
            message=self.message,
            error=self.error,
        )

    def _draw(self, view: View, prompt: str = "› ") -> bool:
        """Draw the screen; False (after saying so) when the terminal is too small."""
        columns, rows = self.term.size()
        if columns < MIN_COLUMNS or rows < MIN_ROWS:
            lines = textwrap.wrap(too_small(columns, rows), max(columns - 1, 10))
            self.term.draw("\n".join([*lines, "(q quits; everything is saved)"]))
            return False
        self.term.draw(render(view, columns, rows, prompt))
        return True

    def _key(self, view: View) -> str:
        while True:
            fits = self._draw(view)
            key = self.term.read_key()
            if key == "resize" or (not fits and key not in ("q", "ctrl-d")):
                continue
            return key

    def _line(self, view: View, prompt: str, hints: str, initial: str = "") -> str | None:
        view.hints = hints

        def redraw() -> None:
            self._draw(view, "")

        redraw()
        text = self.term.read_line(prompt, initial, redraw)
        view.hints = KEY_HINTS
        return text

    def _page(self, lines: Callable[[int, int], list[str]], footer: str) -> None:
        """Pages of text (`lines(columns, rows)`), scrolled with ↑/↓ and space; other keys return."""
        top = 0
        while True:
            columns, rows = self.term.size()
            body = rows - 1
            text = lines(columns, body)
            top = min(top, max(len(text) - body, 0))
            self.term.draw(render_text(text[top : top + body], columns, rows, footer))
            key = self.term.read_key()
            if key in ("down", "j", " ") and top + body < len(text):
                top += body if key == " " else 1
            elif key in ("up", "k") and top > 0:
                top -= 1
            elif key != "resize":
                return

    def _suggest(
        self, kind: str, context: JSON, question: JSON, transcript: Transcript, avoid: set[str]
    ) -> tuple[Step | None, str | None]:
        """ML's proposal for this step and the adversary's score of it, or why there is none."""
        if self.ml is None:
            return None, None
        try:
            if kind == "fan_out":
                [(y, _)] = self.ml.fan_out([(context, question)])
            else:
                [(y, _)] = self.ml.fan_in([(context, question, list(transcript))])
            ok = valid_step(self.task, context, question, y)
            if ok is None or (isinstance(ok, Ask) and any(canonical(q) in avoid for q in ok.questions)):
                return None, "ML has no usable suggestion here"
            text = describe(self.task, question, ok)
            if self.scorer is not None and hasattr(self.scorer, "score_steps"):
                shown = list(transcript) if kind == "fan_in" else []
                [s] = self.scorer.score_steps(kind, [(context, question, shown, ok)])
                text += f"   (adversary S {float(s):+.2f})"
            return ok, text + "   ⏎/y accepts"
        except Exception as e:  # a suggestion is a help, never a reason to stop
            return None, f"ML could not suggest: {e}"

    def _parse_ask(self, text: str, question: JSON, context: JSON, avoid: list[JSON]) -> Ask:
        parts = [p.strip() for p in text.split(";")]
        if parts and not parts[-1] and len(parts) > 1:
            parts.pop()  # a trailing ';'
        if not any(parts):
            raise ParseError("empty subquestion: type one, or two separated by ';' (Esc cancels)")
        if len(parts) > MAX_SUBQUESTIONS:
            raise ParseError(
                f"{len(parts)} subquestions: a step asks one or two; "
                "ask the rest after their answers come back"
            )
        out = []
        keys = {canonical(q): i for i, q in enumerate(avoid)}
        for part in parts:
            if not part:
                raise ParseError("empty subquestion between ';': type one, or two separated by ';'")
            sq = self.task.parse_question(part, context)
            if canonical(sq) == canonical(question):
                raise ParseError(
                    f"'{part}' is the question itself: asking it would loop; ask something smaller"
                )
            if canonical(sq) in keys:
                raise ParseError(f"'{part}' is a question above this one in the tree: asking it would loop")
            out.append(sq)
        return Ask(tuple(out))

    def live(
        self, overseer: HumanOverseer, kind: str, context: JSON, question: JSON, transcript: Transcript
    ) -> Step:
        """Show the node and take the person's step; it is committed before the walker sees it."""
        frame = overseer.stack[-1]
        ancestors = [f.question for f in overseer.stack[:-1]]
        avoid = {canonical(q) for q in [*ancestors, question]}
        suggestion, hint = self._suggest(kind, context, question, transcript, avoid)
        t0 = time.monotonic()
        self._update_times()
        while True:
            view = self._view(overseer, kind, context, question, transcript)
            view.suggestion = hint
            key = self._key(view)
            self.message, self.error = None, False
            y: Step | None = None
            accepted = False
            if key == "a":
                y = self._ask_answer(view, question, context)
            elif key == "s":
                y = self._ask_subquestions(view, question, context, ancestors)
            elif key in ("enter", "y"):
                if suggestion is None:
                    self.message = (
                        "no suggestion to accept: there is no trained model yet (`ida train model`); "
                        "press a to answer or s to ask"
                        if self.ml is None
                        else "ML has no usable suggestion here: press a to answer or s to ask"
                    )
                    self.error = True
                else:
                    y, accepted = suggestion, True
            elif key == "k":
                reason = self._line(view, "skip — reason (optional, ⏎ to skip): ", LINE_HINTS)
                if reason is not None:
                    self._record(
                        "skip", {"skip": reason.strip() or None}, time.monotonic() - t0, status="skipped"
                    )
                    self.message = f"skipped {self.task.question_text(self.row['question'])}"
                    raise _Skip()
            elif key == "f":
                reason = self._line(view, "flag — reason (optional): ", LINE_HINTS)
                if reason is not None:
                    self._record(
                        "flag", {"flag": reason.strip() or None}, time.monotonic() - t0, node=question
                    )
                    t0 = time.monotonic()
                    self.message = "flagged for review; u removes the flag"
            elif key == "u":
                self.message = self._undo(time.monotonic() - t0)
                t0 = time.monotonic()
            elif key == "?":
                self._page(lambda columns, rows: HELP.splitlines(), "any key: back · ↑/↓ scroll")
            elif key == "c":
                self._page(
                    lambda columns, rows: context_pages(
                        context_lines(self.task, context, columns), columns, rows
                    ),
                    "the whole context · space: next page · ↑/↓ scroll · any other key: back",
                )
            elif key in ("q", "ctrl-d"):
                raise _Quit()
            elif key not in ("esc", "unknown"):
                self.message, self.error = f"'{key}' does nothing here: press ? for the keys", True
            if y is None:
                continue
            seconds = time.monotonic() - t0
            note: dict[str, Any] = {"node": question, "path": ancestors, "accepted": accepted}
            if kind == "fan_in":
                note["transcript"] = _pairs(transcript)
            if suggestion is not None:
                note["ml"] = step_json(suggestion)
            step = 0 if kind == "fan_out" else frame.fan_ins
            aid, status = self._commit_step(
                kind, step, self.task.is_primitive(context, question), y, seconds, note, question
            )
            if status != "open":
                raise _Reclaimed()
            overseer.taken.append(aid)
            self.calls += 1
            self.summary.calls += 1
            self.seconds.append(seconds)
            return y

    def _ask_answer(self, view: View, question: JSON, context: JSON) -> Step | None:
        text = ""
        prompt = f"answer {self.task.question_text(question)}: "
        while True:
            got = self._line(view, prompt, LINE_HINTS + " · ? = I don't know", text)
            if got is None:
                return None
            try:
                return Answer(self.task.parse_answer(got, question, context))
            except ParseError as e:
                view.message, view.error, text = f"{e} — nothing was stored; try again", True, got

    def _ask_subquestions(
        self, view: View, question: JSON, context: JSON, ancestors: list[JSON]
    ) -> Step | None:
        text = ""
        while True:
            got = self._line(view, "ask: ", ASK_HINTS, text)
            if got is None:
                return None
            try:
                return self._parse_ask(got, question, context, ancestors)
            except ParseError as e:
                view.message, view.error, text = f"{e} — nothing was stored; try again", True, got
