"""ida train model | adversary."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ida_cli.cli.common import JSON_OPTION, console, emit_json, store

app = typer.Typer(
    help="Retrain ML or the adversary on everything stored; each run a new version.", no_args_is_help=True
)


def _reporter() -> Any:
    """Progress on stderr: a live line on a terminal, one line per evaluation otherwise."""
    err = console(stderr=True)
    tty = sys.stderr.isatty()

    def report(p: Any) -> None:
        if p.held_accuracy is None and not tty:
            return
        held = "" if p.held_accuracy is None else f"  held-out {p.held_accuracy:.1%}"
        speed = f"  {p.examples_per_s:,.0f} ex/s" if p.examples_per_s else ""
        line = f"step {p.step}  loss {p.loss:.4f}{held}{speed}"
        if tty:
            err.print(line, end="\r")
        else:
            err.print(line)

    return report


@app.command("model")
def model(
    ctx: typer.Context,
    supervised: bool = typer.Option(False, "--supervised", help="Train on the ground truth (the baseline)."),
    task: str = typer.Option(None, "--task", help="Task (default: the only one with questions, or init's)."),
    minutes: float = typer.Option(10.0, "--minutes", help="Time budget."),
    max_steps: int = typer.Option(0, "--max-steps", help="Stop after this many steps (0: no limit)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the last interrupted run."),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Train from scratch. By default a run goes on from the latest version's weights and "
        "optimizer state when its recipe matches (shape, ground truth or amplified targets).",
    ),
    warm: bool = typer.Option(
        False, "--warm", help="Insist on going on from the latest version (an error where it cannot)."
    ),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    layers: int = typer.Option(None, "--layers", help="Transformer layers (default per task)."),
    loop: int = typer.Option(None, "--loop", help="Times the layer stack repeats (shared weights)."),
    width: int = typer.Option(None, "--width", help="Model width (default 128)."),
    batch: int = typer.Option(32, "--batch", help="Contexts per step."),
    per_context: int = typer.Option(8, "--per-context", help="Questions packed with each context."),
    eval_every: int = typer.Option(200, "--eval-every", help="Steps between held-out evaluations."),
    patience: int = typer.Option(6, "--patience", help="Evaluations without improvement before stopping."),
    lr: float = typer.Option(1e-3, "--lr"),
    bucket: bool = typer.Option(
        False,
        "--bucket",
        help="Batches of similar lengths: about 2x the steps a minute on amplified data, less "
        "learned a step; it pays under a time budget only.",
    ),
    distill: int = typer.Option(
        0,
        "--distill",
        help="Also walk this many training questions with ML in every role (docs/spec.md §2.4).",
    ),
    distill_confidence: float = typer.Option(
        0.9, "--distill-confidence", help="Keep a walk's answer where Adv's P(wrong) is at most 1 − this."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train ML: amplified answers and the overseer's steps (or --supervised: the ground truth)."""
    from ida_cli.learn.options import TrainModelOptions
    from ida_cli.learn.training import train_model

    opts = TrainModelOptions(
        task=task,
        supervised=supervised,
        minutes=minutes,
        max_steps=max_steps,
        resume=resume,
        warm=warm,
        fresh=fresh,
        seed=seed,
        device=device,
        layers=layers,
        loop=loop,
        width=width,
        batch=batch,
        per_seq=per_context,
        eval_every=eval_every,
        bucket=bucket,
        patience=patience,
        lr=lr,
        distill=distill,
        distill_confidence=distill_confidence,
    )
    result = train_model(store(ctx, "train model"), opts, on_progress=_reporter())
    if result["rank"]:  # under torchrun only rank 0 reports
        return
    if as_json:
        emit_json(result)
        return
    m = result["metrics"]
    console().print(
        f"model v{result['version']} ({result['task']}{', supervised' if result['supervised'] else ''}): "
        f"held-out exact match {m['held_accuracy']:.1%} after {m['steps']} steps in {m['seconds']:.0f} s "
        f"({m['examples_per_s']:,.0f} examples/s, {m['train_gflops_per_s']:.1f} GFLOP/s; "
        f"stopped: {m['stopped']}; {m['start']})"
    )


@app.command("adversary")
def adversary(
    ctx: typer.Context,
    task: str = typer.Option(None, "--task", help="Task (default: the only one with questions, or init's)."),
    supervised: bool = typer.Option(
        False,
        "--supervised",
        help="Judge ML against the ground truth of the training questions instead of the amplified targets.",
    ),
    minutes: float = typer.Option(5.0, "--minutes", help="Time budget."),
    max_steps: int = typer.Option(0, "--max-steps", help="Stop after this many steps (0: no limit)."),
    seed: int = typer.Option(0, "--seed"),
    layers: int = typer.Option(2, "--layers"),
    width: int = typer.Option(128, "--width"),
    batch: int = typer.Option(32, "--batch"),
    eval_every: int = typer.Option(100, "--eval-every"),
    patience: int = typer.Option(5, "--patience"),
    lr: float = typer.Option(1e-3, "--lr"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train Adv on ML as it now is: predict where ML's answers and steps are wrong."""
    from ida_cli.learn.adversarial import TrainAdvOptions, train_adversary

    opts = TrainAdvOptions(
        task=task,
        supervised=supervised,
        minutes=minutes,
        max_steps=max_steps,
        seed=seed,
        layers=layers,
        width=width,
        batch=batch,
        eval_every=eval_every,
        patience=patience,
        lr=lr,
    )
    result = train_adversary(store(ctx, "train adversary"), opts)
    if result["rank"]:  # under torchrun only rank 0 reports
        return
    if as_json:
        emit_json(result)
        return
    m = result["metrics"]

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    console().print(
        f"adversary v{result['version']} ({result['task']}, judging model v{result['model_version']}): "
        f"held-out AUROC {f(m['auroc'])} (ML's own confidence: {f(m['auroc_uncertainty'])}), "
        f"calibration error {f(m['calibration_error'])}, on {m['held_nodes']} nodes with "
        f"{m['held_error_rate']:.1%} errors"
    )
