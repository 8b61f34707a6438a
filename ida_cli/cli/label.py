"""ida label: the interactive labelling session (see ida_cli/label)."""

from __future__ import annotations

import getpass
import os
import re
import sys

import typer

from ida_cli.cli import options
from ida_cli.cli.common import console, store
from ida_cli.errors import UsageError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def register(app: typer.Typer) -> None:
    app.command("label")(label)


def _annotator(given: str | None) -> str:
    name = given or os.environ.get("IDA_ANNOTATOR")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = ""
    if not name:
        raise UsageError("who is labelling? pass --annotator NAME (or set IDA_ANNOTATOR)")
    if not NAME.fullmatch(name):
        raise UsageError(
            f"annotator name '{name}' is not usable: use letters, digits, '.', '_', '-' or '@' (up to 64)"
        )
    return name


def label(
    ctx: typer.Context,
    task: str = typer.Option(None, "--task", help="Task (default: the open round's, or the only one)."),
    annotator: str = typer.Option(
        None, "--annotator", help="Your name, on every record (default $IDA_ANNOTATOR or the login name)."
    ),
    strategy: str = options.strategy(
        None,
        help="Recursion strategy (default: the open round's; else adversary with a trained model and "
        "adversary, else full).",
    ),
    limit: int = typer.Option(None, "--limit", help="Stop after N questions (finished or skipped)."),
    seed: int = options.seed(help="A new round's seed (a resumed round keeps its own)."),
    temperature: float = options.temperature(help="τ of a new round's Gumbel draws."),
    memo: bool = typer.Option(
        False,
        "--memo",
        help="A subquestion you already answered in this tree gets your answer again without asking "
        "(a new round; a resumed one keeps its setting).",
    ),
    overlap: int = typer.Option(
        None,
        "--overlap",
        help="Serve each question to K annotators (agreement studies); default: the open round's, else 1.",
    ),
) -> None:
    """Label training questions at the terminal: you are the overseer H. Resumable at any moment."""
    if not sys.stdin.isatty():
        raise UsageError(
            "ida label needs a terminal: stdin is not one (run it in an interactive shell; "
            "`ida round` amplifies without a person)"
        )
    from ida_cli.label.options import LabelOptions
    from ida_cli.label.screen import MIN_COLUMNS, MIN_ROWS, too_small
    from ida_cli.label.session import LabelSession
    from ida_cli.label.term import Terminal
    from ida_cli.walk.selection import Selection

    Selection(strategy, temperature=temperature, seed=seed).check()
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    if overlap is not None and overlap < 1:
        raise UsageError("--overlap must be at least 1 (the number of annotators each question goes to)")
    name = _annotator(annotator)
    term = Terminal()
    columns, rows = term.size()
    if columns < MIN_COLUMNS or rows < MIN_ROWS:
        raise UsageError(too_small(columns, rows))
    opts = LabelOptions(name, task, strategy, limit, seed, temperature, overlap, memo)
    session = LabelSession(store(ctx, "label"), opts, term)
    session.start()
    with term:
        summary = session.run()
    out = console()
    out.print(
        f"ida label: {summary.labelled} question(s) labelled, {summary.skipped} skipped, "
        f"{summary.calls} overseer call(s) this session (round {summary.round_id}, task {summary.task})"
    )
    if summary.message:
        out.print(summary.message)
