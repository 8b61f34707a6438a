"""What a label session asks of the terminal: screens drawn, keys and lines read, pages scrolled,
typed answers and subquestions parsed until they are valid; and ML's suggestion for a step."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from ida_cli.errors import ParseError
from ida_cli.label.human import describe, parse_ask
from ida_cli.label.screen import (
    ASK_HINTS,
    KEY_HINTS,
    LINE_HINTS,
    MIN_COLUMNS,
    MIN_ROWS,
    View,
    render,
    render_text,
    too_small,
)
from ida_cli.label.term import Term
from ida_cli.tasks.base import Task, question_examples
from ida_cli.vocabulary import JSON, Answer, Ask, Step, Transcript, canonical
from ida_cli.walk.overseer import valid_step
from ida_cli.walk.ports import ML, Scorer


class Prompter:
    def __init__(self, term: Term) -> None:
        self.term = term

    def draw(self, view: View, prompt: str = "› ") -> bool:
        """Draw the screen; False (after saying so) when the terminal is too small."""
        columns, rows = self.term.size()
        if columns < MIN_COLUMNS or rows < MIN_ROWS:
            lines = textwrap.wrap(too_small(columns, rows), max(columns - 1, 10))
            self.term.draw("\n".join([*lines, "(q quits; everything is saved)"]))
            return False
        self.term.draw(render(view, columns, rows, prompt))
        return True

    def key(self, view: View) -> str:
        while True:
            fits = self.draw(view)
            key = self.term.read_key()
            if key == "resize" or (not fits and key not in ("q", "ctrl-d")):
                continue
            return key

    def line(self, view: View, prompt: str, hints: str, initial: str = "") -> str | None:
        view.hints = hints

        def redraw() -> None:
            self.draw(view, "")

        redraw()
        text = self.term.read_line(prompt, initial, redraw)
        view.hints = KEY_HINTS
        return text

    def page(self, lines: Callable[[int, int], list[str]], footer: str) -> None:
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

    def outage(self, error: str, what: str, attempt: int, retry_seconds: float, busy: bool = False) -> None:
        """The screen while the database is away or busy: what failed and that it is retried."""
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
            f"trying again every {retry_seconds:.0f} s (attempt {attempt}) · Ctrl-C quits: "
            "everything stored so far is kept",
        ]
        footer = "waiting for the database…" if busy else "waiting for the database server…"
        self.term.draw(render_text(lines, columns, rows, footer))

    def answer(self, view: View, task: Task, question: JSON, context: JSON) -> Step | None:
        """A typed answer, asked again until the task's parser takes it; None if cancelled."""
        text = ""
        prompt = f"answer {task.question_text(question)}: "
        while True:
            got = self.line(view, prompt, LINE_HINTS + " · ? = I don't know", text)
            if got is None:
                return None
            try:
                return Answer(task.parse_answer(got, question, context))
            except ParseError as e:
                view.message, view.error, text = f"{e} — nothing was stored; try again", True, got

    def subquestions(
        self, view: View, task: Task, question: JSON, context: JSON, ancestors: list[JSON]
    ) -> Step | None:
        """Typed subquestions, asked again until they parse and do not loop; None if cancelled. The
        screen shows what questions look like on this task, one example of each kind."""
        text = ""
        examples = question_examples(task, context, question)
        if examples and not view.message:
            view.message = f"questions look like: {' · '.join(examples)}"
        while True:
            got = self.line(view, "ask: ", ASK_HINTS, text)
            if got is None:
                return None
            try:
                return parse_ask(task, got, question, context, ancestors)
            except ParseError as e:
                view.message, view.error, text = f"{e} — nothing was stored; try again", True, got


def suggest(
    task: Task,
    ml: ML | None,
    scorer: Scorer | None,
    kind: str,
    context: JSON,
    question: JSON,
    transcript: Transcript,
    avoid: set[str],
) -> tuple[Step | None, str | None]:
    """ML's proposal for this step and the adversary's score of it, or why there is none."""
    if ml is None:
        return None, None
    try:
        if kind == "fan_out":
            [(y, _)] = ml.fan_out([(context, question)])
        else:
            [(y, _)] = ml.fan_in([(context, question, list(transcript))])
        ok = valid_step(task, context, question, y)
        if ok is None or (isinstance(ok, Ask) and any(canonical(q) in avoid for q in ok.questions)):
            return None, "ML has no usable suggestion here"
        text = describe(task, question, ok)
        if scorer is not None and hasattr(scorer, "score_steps"):
            shown = list(transcript) if kind == "fan_in" else []
            [s] = scorer.score_steps(kind, [(context, question, shown, ok)])
            text += f"   (adversary S {float(s):+.2f})"
        return ok, text + "   ⏎/y accepts"
    except Exception as e:  # a suggestion is a help, never a reason to stop
        return None, f"ML could not suggest: {e}"
