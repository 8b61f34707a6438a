"""The Typer app: one sub-app per command group, joined with add_typer.

Commands parse arguments, call one core function and render its result. Heavy modules (numpy,
polars, duckdb, torch) are imported inside the commands, so `ida --help` stays fast."""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from ida_cli.errors import IdaError


class IdaGroup(TyperGroup):
    """Turns IdaError into one line on stderr and its exit code; IDA_TRACEBACK=1 re-raises."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except IdaError as e:
            if os.environ.get("IDA_TRACEBACK"):
                raise
            from ida_cli.text import visible

            typer.echo(f"error: {visible(str(e))}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            if os.environ.get("IDA_TRACEBACK"):
                raise
            typer.echo("error: interrupted", err=True)
            ctx.exit(130)


app = typer.Typer(
    cls=IdaGroup,
    name="ida",
    help="Iterated Distillation and Amplification with adversary-guided active learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _global(
    ctx: typer.Context,
    # a string, not a Path: pathlib would turn postgresql://host/db into postgresql:/host/db
    db: str = typer.Option(
        "ida.duckdb",
        "--db",
        envvar="IDA_DB",
        help="The project database: a DuckDB file (default ./ida.duckdb or $IDA_DB) or a "
        "postgresql://user:password@host:port/dbname URL.",
    ),
) -> None:
    ctx.obj = {"db": db}


def _register() -> None:
    from ida_cli.cli import (
        audit,
        basic,
        eval_cmd,
        experiment,
        grid,
        label,
        questions,
        round_cmd,
        train,
        trees,
    )

    basic.register(app)
    round_cmd.register(app)
    eval_cmd.register(app)
    experiment.register(app)
    grid.register(app)
    app.add_typer(questions.app, name="questions")
    app.add_typer(trees.app, name="trees")
    app.add_typer(train.app, name="train")
    audit.register(app)
    label.register(app)


_register()


def main() -> None:
    app(prog_name="ida")
