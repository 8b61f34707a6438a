"""ida questions generate | import | export."""

from __future__ import annotations

from pathlib import Path

import typer

from ida_cli.cli.common import (
    FORCE_OPTION,
    JSON_OPTION,
    check_json_output,
    console,
    emit_json,
    output_option,
    store,
    written,
)

app = typer.Typer(help="Make, import and export questions.", no_args_is_help=True)


@app.command("generate")
def generate(
    ctx: typer.Context,
    task: str = typer.Option(..., "--task", help="A built-in task (see `ida tasks`)."),
    size: int = typer.Option(..., "--size", help="Items per context, 8-64."),
    count: int = typer.Option(..., "--count", help="How many questions."),
    seed: int = typer.Option(..., "--seed", help="Random seed."),
    split: str = typer.Option("train", "--split", help="train or eval."),
    per_context: int = typer.Option(8, "--per-context", help="Questions to a context."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make C questions with ground truth; eval contexts are never shared with train."""
    from ida_cli.project.questions import generate as core

    r = core(store(ctx, "questions generate"), task, size, count, seed, split, per_context)
    doc = {
        "task": r.task,
        "size": r.size,
        "split": r.split,
        "seed": r.seed,
        "count": r.count,
        "contexts": r.contexts,
        "first_id": r.first_id,
        "last_id": r.last_id,
        "seconds": round(r.seconds, 3),
    }
    if as_json:
        emit_json(doc)
    else:
        console().print(
            f"{r.count} {r.split} questions of {r.task} (size {r.size}) in {r.contexts} contexts: "
            f"ids {r.first_id}-{r.last_id}"
        )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="JSONL, CSV or Parquet; one question a row."),
    split: str = typer.Option(
        None, "--split", help="Put every row in this split (default: the row's, or train)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """User questions from JSONL/CSV/Parquet (question; optional task, context, truth, split)."""
    from ida_cli.project.questions_io import import_file

    r = import_file(store(ctx, "questions import"), file, split)
    doc = {"path": r.path, "count": r.count, "tasks": r.tasks, "first_id": r.first_id, "last_id": r.last_id}
    if as_json:
        emit_json(doc)
    else:
        tasks = ", ".join(f"{n} {t}" for t, n in r.tasks.items())
        console().print(f"imported {r.count} questions ({tasks}) from {r.path}: ids {r.first_id}-{r.last_id}")


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option(..., "--format", help="jsonl, csv or parquet."),
    output: Path = output_option(),
    task: str = typer.Option(None, "--task", help="Only this task."),
    split: str = typer.Option(None, "--split", help="Only this split."),
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One row a question: id, task, size, split, context, question, truth."""
    from ida_cli.project.questions_io import export as core

    check_json_output(output, as_json)
    rows = core(store(ctx, "questions export"), output, fmt, task, split, force)
    written(
        output, as_json, {"path": str(output), "format": fmt, "rows": rows}, f"{rows} questions → {output}"
    )
