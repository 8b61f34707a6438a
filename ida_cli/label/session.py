"""The labelling session: a person as the overseer H of the walker, crash-safe by replay.

See the package docstring (ida_cli/label/__init__.py) for the design; this module holds the
session loop (`LabelSession`); the overseer it hands the walker is `label.human.HumanOverseer`,
the screen and keys are `label.desk`, the person's records `label.durable`, the terminal dialogue
is `label.prompts`, and ML and the adversary come from `label.models`."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from typing import Any

from ida_cli.errors import (
    DatabaseUnreachable,
    IdaError,
    Interrupted,
    NoDatabase,
    UsageError,
)
from ida_cli.label.desk import Desk
from ida_cli.label.human import HumanOverseer, Quit, Reclaimed, Restart, Skip
from ida_cli.label.models import Models, SeenML, SeenStrategy, StoreModels
from ida_cli.label.options import LabelOptions, Summary
from ida_cli.label.prompts import Prompter
from ida_cli.label.screen import Progress
from ida_cli.label.term import Term
from ida_cli.store import Store, records, treestore
from ida_cli.store import label_actions as acts
from ida_cli.store import label_records as lrec
from ida_cli.store import presence as pres
from ida_cli.store.claims import Heartbeat, claim_timeout
from ida_cli.tasks import get_task
from ida_cli.vocabulary import Tree
from ida_cli.walk.ports import ML, Scorer, require
from ida_cli.walk.walker import Walker


class LabelSession(Desk):
    """One person's session: find or make the round, serve question after question, store each tree.
    The person's records are `DurableRecords` (label/durable.py), the screen and keys `Desk`
    (label/desk.py)."""

    def __init__(self, store: Store, opts: LabelOptions, term: Term, models: Models | None = None) -> None:
        self.store, self.opts, self.term = store, opts, term
        self.prompt = Prompter(term)
        self.models: Models = models or StoreModels(store)
        self.actor = acts.actor_of(opts.annotator)
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
        self._heartbeat: Heartbeat | None = None

    # -- start and end ----------------------------------------------------------------------------
    def start(self) -> None:
        """Find or make the round, check there is work, and open the session (one transaction)."""
        if not self.store.exists():
            raise NoDatabase(f"no database at {self.store.display}: run `ida init` (or pass --db)")
        from ida_cli.rounds.common import default_task
        from ida_cli.rounds.options import make_strategy

        with self.store.read() as con:
            rounds = lrec.open_rounds(con, self.opts.annotator)
            task_name = self.opts.task or (rounds[0].task if rounds else default_task(con))
        self.task = get_task(task_name)
        model, adversary = self.models.current(task_name)
        mine = [r for r in rounds if r.task == task_name]
        if self.opts.strategy is not None:
            mine = [r for r in mine if r.strategy == self.opts.strategy]
        rnd = mine[0] if mine else None
        if rnd is not None:
            strategy, seed, temperature = rnd.strategy, rnd.seed, float(rnd.params.get("temperature", 1.0))
            memo = bool(rnd.params.get("memo", False))  # a resumed round replays as it was walked
        else:
            strategy = self.opts.strategy or ("adversary" if model and adversary else "full")
            seed, temperature, memo = self.opts.seed, self.opts.temperature, self.opts.memo
        self.memo = memo
        self.strategy = strategy
        require(strategy, model is not None, adversary is not None)
        self.walk_strategy = make_strategy(strategy, None, temperature)
        overlap = self.opts.overlap or int((rnd.params.get("overlap") if rnd else None) or 1)
        self.overlap = overlap
        with self.store.write() as con:
            live = pres.claim_sessions(con, self.opts.annotator)
            if live is not None:
                pid, host = live
                where = f"pid {pid}" if host == socket.gethostname() else f"pid {pid} on {host}"
                raise UsageError(
                    f"{self.opts.annotator} is already labelling in another `ida label` ({where}): "
                    "finish there, or use another --annotator"
                )
            has_open = rnd is not None and lrec.open_item(con, rnd.id) is not None
            stale = pres.stale_annotators(con, self.opts.annotator)
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
                    "memo": memo,
                }
                rnd = lrec.create_round(con, self.session_id, task_name, strategy, seed, params)
            else:
                if rnd.params.get("overlap", 1) != overlap:
                    rnd.params["overlap"] = overlap
                    lrec.set_round_params(con, rnd.id, rnd.params)
                lrec.set_round_status(con, rnd.id, "running")
        self.round = rnd
        self.summary = Summary(rnd.id, task_name)
        self._heartbeat = Heartbeat(self.store, self.session_id)
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
        except (Quit, EOFError):
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
            except Restart as r:
                self.message, self.error = r.message, False
            except Skip:
                self.counted += 1
                self.summary.skipped += 1
            except Reclaimed:
                self.message, self.error = self._reclaimed_message(item), True

    def _reclaimed_message(self, item: lrec.Item) -> str:
        return (
            f"question {item.question_id} was given to another annotator while this session was away "
            f"(more than {claim_timeout():.0f} s unseen); your steps on it are kept"
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
                    stale = pres.stale_annotators(con, self.opts.annotator, kill_dead=False)
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

    # -- one question -------------------------------------------------------------------------------
    def _label(self, item: lrec.Item) -> None:
        self.item = item

        def load() -> tuple[dict[str, Any], list[acts.StoredAction]]:
            with self.store.read() as con:
                [row] = records.load_questions(con, [item.question_id])
                return row, acts.live_actions(con, item.id)

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
            SeenStrategy(self.walk_strategy, overseer.seen_choice),
            self.round.seed,
            ml=SeenML(self.ml, overseer.seen_answers) if self.ml is not None else None,
            scorer=self.scorer,
            memo=self.memo,
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
                tree.seconds = acts.item_seconds(con, item.id)
                treestore.write_trees(con, [tree], None)
                acts.link_actions(
                    con, [(aid, tree.id, a.node.id) for aid, a in zip(taken, actions, strict=True)]
                )
                lrec.finish_item(con, item, tree.id, tree.seconds)
                return None

        status = self._retrying(
            "your answers are stored; the finished tree is stored as soon as the database answers", store
        )
        if status == "done":
            with self.store.read() as con:
                tree.id = lrec.item_tree(con, item.id)
        elif status is not None:
            raise Reclaimed()
        self.counted += 1
        self.summary.labelled += 1
        q = self.task.question_text(self.row["question"])
        self.message = (
            f"stored question {q}: answer {self.task.answer_text(self.row['question'], tree.root.answer)} "
            f"({tree.overseer_calls} calls, tree {tree.id})"
        )
        self.error = False
