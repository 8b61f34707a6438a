"""The screens of `ida label`, composed as text (rich for styles) to fit the terminal exactly.

One screen per overseer call, top to bottom: the title and progress, the breadcrumb (the path of
questions from the root to this node), the context (laid out in columns, or cut with a pointer to
`c` when it does not fit), the question with what the adversary decided for its siblings, the
subanswers so far (at fan-in), ML's suggestion, a message, the key hints (always shown), and the
prompt on the bottom row."""

from __future__ import annotations

import io
import math
import os
import textwrap
from dataclasses import dataclass, field, replace

from rich.console import Console
from rich.text import Text

from ida_cli.tasks.base import Task
from ida_cli.text import visible
from ida_cli.vocabulary import JSON

MIN_COLUMNS, MIN_ROWS = 80, 24
MIN_CONTEXT_ROWS = 3
MAX_MESSAGE_ROWS = 3
STEP_WORDS = {
    "fan_out": "fan-out: answer it, or break it into one or two subquestions",
    "fan_in": "fan-in: with the subanswers below, answer it or ask more",
}
MAX_QUESTION_ROWS = 4
KEY_HINTS = "a answer  s ask  ⏎/y accept  k skip  f flag  u undo  c context  ? help  q quit"
LINE_HINTS = "⏎ submit · Esc cancel · Ctrl-U clear"
ASK_HINTS = "one subquestion, or two separated by ';' · ⏎ submit · Esc cancel"

HELP = """\
ida label: you are the overseer H. Answer each question, or break it into
smaller ones.

  a      answer the question (type it, then ⏎; ? means "I don't know")
  s      ask one or two subquestions (two: separate them with ';')
  ⏎ / y  accept ML's suggestion (shown under the question once a model exists)
  k      skip this question, with an optional reason; it is not offered again
  f      flag this question for review, with an optional reason, and go on
  u      undo your last step in this question (or the skip just before it)
  c      the whole context (space for the next page)
  ?      this help
  q      quit: everything you gave is saved; `ida label` resumes right here

At fan-out you see a question: answer it or ask subquestions. When you ask
two, the adversary picks (Gumbel-max over its scores) the one you answer
next, and ML answers the other. At fan-in you see every subanswer: answer
the question, or ask more.

Every step is saved the moment you give it: a crash loses at most the line
being typed. Undo never erases: it adds a record that supersedes the step.
"""


@dataclass
class Progress:
    done: int = 0  # questions finished in this round
    left: int | None = None  # questions left, this one included
    calls: int = 0  # overseer calls this session
    median: float | None = None  # median seconds per step
    eta: float | None = None  # seconds

    def line(self) -> str:
        parts = [f"{self.done} done"]
        if self.left is not None:
            parts.append(f"{self.left} left")
        parts.append(f"{self.calls} call{'s' if self.calls != 1 else ''} this session")
        parts.append("— s/answer" if self.median is None else f"{self.median:.1f} s/answer")
        parts.append("ETA —" if self.eta is None else f"ETA {duration(self.eta)}")
        return " · ".join(parts)


@dataclass
class View:
    title: str
    progress: Progress
    breadcrumb: list[str]
    context: list[str]
    kind: str  # fan_out | fan_in
    question: str
    note: str = ""
    decision: list[str] = field(default_factory=list)
    transcript: list[tuple[str, str, str]] = field(default_factory=list)  # (question, answer, by)
    suggestion: str | None = None
    message: str | None = None
    error: bool = False
    hints: str = KEY_HINTS


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def context_lines(task: Task, context: JSON, width: int) -> list[str]:
    """The context as the task renders it; a permutation's two-row table is cut into blocks that
    fit the width."""
    if task.name == "permutation" and isinstance(context, dict) and "perm" in context:
        perm = context["perm"]
        w = len(str(len(perm)))
        per = max((width - 7) // (w + 1), 1)
        out: list[str] = []
        for start in range(0, len(perm), per):
            chunk = range(start, min(start + per, len(perm)))
            if out:
                out.append("")
            out.append("   x  " + " ".join(f"{i:>{w}}" for i in chunk))
            out.append("σ(x)  " + " ".join(f"{perm[i]:>{w}}" for i in chunk))
        return out
    return task.render_context(context).splitlines() or [""]


def context_pages(lines: list[str], width: int, rows: int) -> list[str]:
    """The whole context as pages of exactly `rows` lines, each flowed into as many columns as
    fit the width (for the `c` view)."""
    col = max(len(line) for line in lines) + 3 if lines else 1
    ncols = max((width + 3) // col, 1)
    out: list[str] = []
    per = ncols * rows
    for start in range(0, len(lines), per):
        chunk = lines[start : start + per]
        depth = rows if len(lines) > per else math.ceil(len(chunk) / ncols)
        for r in range(depth):
            cells = [chunk[c * depth + r] for c in range(ncols) if c * depth + r < len(chunk)]
            out.append("".join(cell.ljust(col) for cell in cells).rstrip())
    return out


def fit_context(lines: list[str], width: int, rows: int) -> list[str]:
    """At most `rows` lines: as they are, flowed into columns, or cut with a pointer to `c`."""
    if any(len(line) > width for line in lines):  # free text: wrap it
        lines = [
            part for line in lines for part in (textwrap.wrap(line, width, subsequent_indent="  ") or [""])
        ]
    if len(lines) <= rows:
        return lines
    col = max(len(line) for line in lines) + 3
    ncols = max((width + 3) // col, 1)
    if ncols >= 2:
        depth = math.ceil(len(lines) / ncols)
        flowed = []
        for r in range(depth):
            cells = [lines[c * depth + r] for c in range(ncols) if c * depth + r < len(lines)]
            flowed.append("".join(cell.ljust(col) for cell in cells).rstrip())
        lines = flowed
    if len(lines) <= rows:
        return lines
    keep = max(rows - 1, 0)
    return [*lines[:keep], f"… {len(lines) - keep} more lines: press c for the whole context"]


def _console(width: int) -> Console:
    color = None if os.environ.get("NO_COLOR") else "standard"
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=True,
        color_system=color,  # type: ignore[arg-type]
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
    )


def _wrap(console: Console, text: Text, width: int, limit: int) -> list[Text]:
    lines = list(text.wrap(console, width))
    if len(lines) > limit:
        lines = lines[:limit]
        lines[-1].truncate(width - 1)
        lines[-1].append("…")
    return lines


def _emit(console: Console, lines: list[Text], width: int) -> str:
    for line in lines:
        line.truncate(width, overflow="ellipsis")
        console.print(line, no_wrap=True, overflow="ellipsis", crop=True, soft_wrap=False)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().removesuffix("\n")


def rule(label: str, width: int) -> Text:
    return Text(f"── {label} " + "─" * max(width - len(label) - 4, 0), style="dim")


def render(view: View, columns: int, rows: int, prompt: str = "› ") -> str:
    """The whole screen: at most `rows` lines, the last one the prompt."""
    con = _console(columns)
    view = shown(view)
    head = [
        Text(view.title.ljust(columns), style="reverse bold"),
        Text(view.progress.line(), style="cyan"),
    ]
    crumbs = " › ".join(view.breadcrumb)
    if len(crumbs) + 4 > columns:  # long (free-text) questions: shorten all but the current one
        crumbs = " › ".join(
            [*(c if len(c) <= 24 else c[:23] + "…" for c in view.breadcrumb[:-1]), *view.breadcrumb[-1:]]
        )
    if len(crumbs) + 4 > columns:
        crumbs = "… " + crumbs[-(columns - 6) :]
    head.append(Text("at: ", style="dim") + Text(crumbs, style="bold"))
    node: list[Text] = [rule(f"question · {STEP_WORDS.get(view.kind, view.kind)}", columns)]
    label = "fan-out" if view.kind == "fan_out" else "fan-in"
    q = Text(f"{label}  ", style="dim") + Text(view.question, style="bold")
    if view.note:
        q += Text(f"   {view.note}", style="dim")
    node += _wrap(con, q, columns, MAX_QUESTION_ROWS)
    for line in view.decision:
        node += _wrap(con, Text(f"  {line}", style="magenta"), columns, 2)
    trans: list[Text] = []
    for i, (sq, a, by) in enumerate(view.transcript, 1):
        entry = Text(f"  {i}. {sq} → ") + Text(a, style="bold") + Text(f"   {by}", style="dim")
        trans += _wrap(con, entry, columns, 2)
    tail: list[Text] = []
    if view.suggestion:
        tail.append(Text("ML suggests: ", style="green") + Text(view.suggestion, style="bold green"))
    if view.message:
        style = "bold red" if view.error else "yellow"
        tail += _wrap(con, Text(view.message, style=style), columns, MAX_MESSAGE_ROWS)
    tail += _wrap(con, Text(view.hints, style="cyan"), columns, 2)
    fixed = len(head) + 1 + len(node) + len(tail) + 1  # + the context rule and the prompt
    room = rows - fixed - MIN_CONTEXT_ROWS
    if len(trans) > max(room, 1):  # keep the latest subanswers
        cut = len(trans) - max(room - 1, 0)
        trans = [Text(f"  … {cut} earlier lines of subanswers", style="dim"), *trans[cut:]]
    ctx_rows = rows - fixed - len(trans)
    ctx = [Text(line) for line in fit_context(view.context, columns, max(ctx_rows, 1))]
    top = [*head, rule("context", columns), *ctx, *node, *trans]
    pad = [Text("") for _ in range(rows - 1 - len(top) - len(tail))]  # hints and prompt at the bottom
    lines = [*top, *pad, *tail][: rows - 1]
    return _emit(con, lines, columns) + "\n" + prompt


def shown(view: View) -> View:
    """The view with every text that came from a file or a person made visible (ida_cli/text.py):
    a question's control sequences are shown, never sent to the terminal."""
    return replace(
        view,
        title=visible(view.title),
        breadcrumb=[visible(c) for c in view.breadcrumb],
        context=[visible(line) for line in view.context],
        question=visible(view.question),
        note=visible(view.note),
        decision=[visible(d) for d in view.decision],
        transcript=[(visible(q), visible(a), visible(by)) for q, a, by in view.transcript],
        suggestion=None if view.suggestion is None else visible(view.suggestion),
        message=None if view.message is None else visible(view.message),
    )


def render_text(lines: list[str], columns: int, rows: int, footer: str) -> str:
    """A plain page (help, the whole context) with a footer line."""
    con = _console(columns)
    body = [Text(visible(line)) for line in lines[: rows - 1]]
    body += [Text("")] * (rows - 1 - len(body))
    return _emit(con, body, columns) + "\n" + footer


def too_small(columns: int, rows: int) -> str:
    return (
        f"the terminal is {columns}x{rows}; ida label needs at least {MIN_COLUMNS}x{MIN_ROWS}: "
        "enlarge the window"
    )
