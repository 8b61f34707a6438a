"""Helpers shared by the command modules: the store for this invocation, JSON and rich output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ida_cli.store import Store

JSON_OPTION = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")


def store(ctx: typer.Context, command: str) -> Store:
    from ida_cli.store import Store

    root = ctx.find_root()
    return Store(root.obj["db"], command=f"ida {command}")


FORCE_OPTION = typer.Option(False, "--force", help="Replace the output file if it exists.")


def output_option(help: str = "File to write; - for standard output.") -> Any:
    return typer.Option(..., "-o", "--output", help=help)


def check_json_output(output: Path, as_json: bool) -> None:
    if str(output) == "-" and as_json:
        from ida_cli.errors import UsageError

        raise UsageError("--json and -o - both write to standard output: use one of them")


def written(output: Path, as_json: bool, doc: Any, line: str) -> None:
    """Report what an export wrote: the JSON document or a line on stdout, or on stderr when the
    file itself went to stdout (`-o -`)."""
    if str(output) == "-":
        console(stderr=True).print(line)
    elif as_json:
        emit_json(doc)
    else:
        console().print(line)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=str) + "\n")


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
