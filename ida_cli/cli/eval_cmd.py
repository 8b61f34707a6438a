"""ida eval."""

from __future__ import annotations

import typer

from ida_cli.cli.common import JSON_OPTION, console, emit_json, store


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_)


def eval_(
    ctx: typer.Context,
    task: str = typer.Option(None, "--task", help="Task (default: the only one with questions, or init's)."),
    split: str = typer.Option("eval", "--split", help="eval (default) or train."),
    version: int = typer.Option(None, "--version", help="Model version (default: the latest for the task)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Accuracy of ML on the eval split, per question kind, and its imitation of the overseer."""
    from ida_cli.learn.evaluate import evaluate

    r = evaluate(store(ctx, "eval"), task, split, version)
    if r.get("warning"):
        console(stderr=True).print(f"warning: {r['warning']}")
    if as_json:
        emit_json(r)
        return
    from rich.table import Table

    table = Table(
        "measure",
        "value",
        title=f"model v{r['model_version']} on {r['task']} ({r['split']}, {r['questions']} questions)",
    )
    table.add_row("accuracy (exact match)", f"{r['accuracy']:.1%}")
    for kind, acc in r["by_kind"].items():
        table.add_row(f"  {kind}", f"{acc:.1%}")
    for mode in ("fan_out", "fan_in"):
        if r.get(f"{mode}_accuracy") is not None:
            table.add_row(f"{mode} imitation ({r[f'{mode}_steps']} steps)", f"{r[f'{mode}_accuracy']:.1%}")
    if r.get("adversary_version") is not None:

        def f(v: object) -> str:
            return "-" if v is None else f"{v:.3f}"

        table.add_row(
            f"adversary v{r['adversary_version']} AUROC ({r['adversary_nodes']} nodes, "
            f"{r['ml_node_error_rate']:.1%} wrong)",
            f(r["adversary_auroc"]),
        )
        table.add_row("  ML's own confidence AUROC", f(r["uncertainty_auroc"]))
        if r.get("adversary_auroc_gap") is not None:
            table.add_row(
                f"  adversary − confidence (95% interval over {r['adversary_contexts']} contexts)",
                f"{r['adversary_auroc_gap']:+.3f} [{r['adversary_auroc_gap_low']:+.3f}, "
                f"{r['adversary_auroc_gap_high']:+.3f}]",
            )
        table.add_row("  adversary calibration error", f(r["adversary_calibration_error"]))
    table.add_row("overseer calls so far", f"{r['overseer_calls']} ({r['primitive_calls']} primitive)")
    console().print(table)
