"""Helpers shared by the command modules: the store for this invocation, JSON and rich output."""

from __future__ import annotations

import json
import sys
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


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=str) + "\n")


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
