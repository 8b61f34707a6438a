"""A label session's screen: the node in view, ML's suggestion, and the person's keys. Each step
the person gives is committed (label/durable.py) before the walker sees it."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

from ida_cli.label.durable import DurableRecords
from ida_cli.label.human import HumanOverseer, Quit, Reclaimed, Skip, pairs
from ida_cli.label.prompts import suggest
from ida_cli.label.screen import HELP, LINE_HINTS, Progress, View, context_lines, context_pages
from ida_cli.vocabulary import JSON, Step, Transcript, canonical
from ida_cli.walk.overseer import step_json

if TYPE_CHECKING:
    from ida_cli.label.term import Term
    from ida_cli.walk.ports import ML, Scorer


class Desk(DurableRecords):
    """The screen-and-keys half of `LabelSession` (a mixin: the session sets these attributes)."""

    term: Term
    ml: ML | None
    scorer: Scorer | None
    strategy: str
    progress: Progress
    row: dict[str, Any]
    calls: int
    seconds: list[float]
    _calls_per_tree: float | None
    _context_cache: dict[int, list[str]]

    def _update_times(self) -> None:
        p = self.progress
        p.calls = self.calls
        p.median = statistics.median(self.seconds) if self.seconds else None
        per_tree = self._calls_per_tree
        p.eta = (
            None if p.median is None or per_tree is None or p.left is None else p.left * per_tree * p.median
        )

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

    def live(
        self, overseer: HumanOverseer, kind: str, context: JSON, question: JSON, transcript: Transcript
    ) -> Step:
        """Show the node and take the person's step; it is committed before the walker sees it."""
        frame = overseer.stack[-1]
        ancestors = [f.question for f in overseer.stack[:-1]]
        avoid = {canonical(q) for q in [*ancestors, question]}
        suggestion, hint = suggest(
            self.task, self.ml, self.scorer, kind, context, question, transcript, avoid
        )
        t0 = time.monotonic()
        self._update_times()
        while True:
            view = self._view(overseer, kind, context, question, transcript)
            view.suggestion = hint
            key = self.prompt.key(view)
            self.message, self.error = None, False
            y: Step | None = None
            accepted = False
            if key == "a":
                y = self.prompt.answer(view, self.task, question, context)
            elif key == "s":
                y = self.prompt.subquestions(view, self.task, question, context, ancestors)
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
                reason = self.prompt.line(view, "skip — reason (optional, ⏎ to skip): ", LINE_HINTS)
                if reason is not None:
                    self._record(
                        "skip", {"skip": reason.strip() or None}, time.monotonic() - t0, status="skipped"
                    )
                    self.message = f"skipped {self.task.question_text(self.row['question'])}"
                    raise Skip()
            elif key == "f":
                reason = self.prompt.line(view, "flag — reason (optional): ", LINE_HINTS)
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
                self.prompt.page(lambda columns, rows: HELP.splitlines(), "any key: back · ↑/↓ scroll")
            elif key == "c":
                self.prompt.page(
                    lambda columns, rows: context_pages(
                        context_lines(self.task, context, columns), columns, rows
                    ),
                    "the whole context · space: next page · ↑/↓ scroll · any other key: back",
                )
            elif key in ("q", "ctrl-d"):
                raise Quit()
            elif key not in ("esc", "unknown"):
                self.message, self.error = f"'{key}' does nothing here: press ? for the keys", True
            if y is None:
                continue
            seconds = time.monotonic() - t0
            note: dict[str, Any] = {"node": question, "path": ancestors, "accepted": accepted}
            if kind == "fan_in":
                note["transcript"] = pairs(transcript)
            if suggestion is not None:
                note["ml"] = step_json(suggestion)
            step = 0 if kind == "fan_out" else frame.fan_ins
            aid, status = self._commit_step(
                kind, step, self.task.is_primitive(context, question), y, seconds, note, question
            )
            if status != "open":
                raise Reclaimed()
            overseer.taken.append(aid)
            self.calls += 1
            self.summary.calls += 1
            self.seconds.append(seconds)
            return y
