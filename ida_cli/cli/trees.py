"""ida trees show | export | import."""

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

app = typer.Typer(help="Show, export and import question trees (docs/spec.md §6.2).", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    tree_id: int = typer.Argument(..., metavar="ID"),
    depth: int = typer.Option(None, "--depth", help="Draw only this many levels."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One tree as a picture (or its JSON)."""
    from ida_cli.project.trees import show as core

    tree = core(store(ctx, "trees show"), tree_id)
    if as_json:
        emit_json(tree.to_json())
        return
    from ida_cli.cli.render import tree_picture

    console().print(tree_picture(tree, max_depth=depth))


@app.command("export")
def export(
    ctx: typer.Context,
    tree_id: int = typer.Argument(..., metavar="ID"),
    output: Path = output_option("JSON file to write; - for standard output."),
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One tree as JSON (docs/spec.md §6.2)."""
    from ida_cli.project.trees import export as core

    check_json_output(output, as_json)
    tree = core(store(ctx, "trees export"), tree_id, output, force)
    n = len(tree.nodes())
    written(
        output,
        as_json,
        {"tree": tree.id, "path": str(output), "nodes": n},
        f"tree {tree.id} ({n} nodes) → {output}",
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A tree JSON file (docs/spec.md §6.2)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a tree, keeping its tree and node ids; prints the tree id."""
    from ida_cli.project.trees import import_file

    tree = import_file(store(ctx, "trees import"), file)
    if as_json:
        emit_json({"tree": tree.id, "nodes": len(tree.nodes())})
    else:
        print(tree.id)
