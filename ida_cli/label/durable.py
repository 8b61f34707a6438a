"""A label session's records of the person: every step, skip, flag, undo and void reaches the store
exactly once, across outages. A step is committed in its own transaction before the walker sees
it; while the server is away (or another writer holds the store) the screen says so, the record
waits, and a token in its note tells whether an attempt whose reply was lost did commit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ida_cli.errors import DatabaseBusy, DatabaseUnreachable
from ida_cli.label.human import Restart, describe
from ida_cli.store import label_actions as acts
from ida_cli.store import label_records as lrec
from ida_cli.store.db import now
from ida_cli.vocabulary import JSON, Step
from ida_cli.walk.overseer import step_json

if TYPE_CHECKING:
    from ida_cli.label.options import LabelOptions, Summary
    from ida_cli.label.prompts import Prompter
    from ida_cli.store import Store
    from ida_cli.tasks.base import Task

RETRY_SECONDS = 1.0  # while the database server is unreachable, try again this often
T = TypeVar("T")


class DurableRecords:
    """The record-keeping half of `LabelSession` (a mixin: the session sets these attributes)."""

    store: Store
    opts: LabelOptions
    prompt: Prompter
    task: Task
    session_id: str
    actor: str
    round: lrec.LabelRound
    item: lrec.Item
    overlap: int
    counted: int
    summary: Summary
    message: str | None
    error: bool

    def _note(self, **extra: Any) -> dict[str, Any]:
        return {"round": self.round.id, "item": self.item.id, "question": self.item.question_id, **extra}

    def void(self, stale: list[acts.StoredAction]) -> None:
        """Steps the replayed tree no longer reaches (the model's answers changed): superseded by a
        `void` record each, never deleted."""

        def store() -> None:
            with self.store.write() as con:
                for act in stale:
                    acts.add_action(
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
                if not retried or acts.action_by_token(con, item.id, token) is None:
                    acts.add_action(
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
                aid = acts.action_by_token(con, item.id, token) if retried else None
                if aid is None:
                    aid = acts.add_action(
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
                self.prompt.outage(str(e), what, attempt, RETRY_SECONDS, busy=isinstance(e, DatabaseBusy))
                if on_retry is not None:
                    on_retry()
                time.sleep(RETRY_SECONDS)

    def _undo(self, seconds: float) -> str:
        """Supersede the person's last action in this question (or the skip just before it)."""
        task, item, token, at = self.task, self.item, uuid.uuid4().hex, now()
        found: list[acts.StoredAction] = []  # the target, once an attempt has chosen it
        retried: list[bool] = []

        def store() -> str | None:
            with self.store.write() as con:
                if retried and found and acts.action_by_token(con, item.id, token) is not None:
                    return None  # the attempt whose reply was lost did commit
                found.clear()
                live = acts.live_actions(con, item.id, ("fan_out", "fan_in", "flag"))
                target: acts.StoredAction | None = live[-1] if live else None
                prev = None
                if target is None:
                    prev = lrec.previous_item(con, item)
                    skips = (
                        acts.live_actions(con, prev.id, ("skip",))
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
                acts.add_action(
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
            raise Restart("skip undone: back to the question you skipped")
        node = target.note.get("node")
        raise Restart(f"undone: your {describe(task, node, target.result)} at {task.question_text(node)}")
