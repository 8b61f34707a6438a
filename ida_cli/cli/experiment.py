"""ida experiment | report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ida_cli.cli import options
from ida_cli.cli.common import JSON_OPTION, console, emit_json, store


def register(app: typer.Typer) -> None:
    app.command("experiment")(experiment)
    app.command("report")(report)


def experiment(
    ctx: typer.Context,
    task: str = typer.Option(..., "--task"),
    size: int = typer.Option(8, "--size"),
    strategy: str = options.strategy(..., help="A strategy of `ida round`, or supervised (the baseline)."),
    budget: int = typer.Option(
        ..., "--budget", help="Overseer calls to spend (supervised: labelled examples)."
    ),
    seed: int = options.seed(help="Seed of the questions, the picks, the draws and the training."),
    per_round: int = typer.Option(160, "--per-round", help="Training questions amplified per cycle."),
    per_context: int = typer.Option(
        8, "--per-context", help="Training questions drawn to a context (the pool, supervised labels)."
    ),
    bootstrap: int = typer.Option(
        None,
        "--bootstrap",
        help="Questions in the first round, full HCH before any model exists (default: --per-round).",
    ),
    schedule: str = typer.Option(
        "online",
        "--schedule",
        help="online: ML and the adversary train on across cycles, never from scratch (an EMA "
        "teacher answers); cycles: both retrained from scratch every cycle.",
    ),
    train_minutes: float = typer.Option(
        1.0,
        "--train-minutes",
        help="ML training time per cycle (cycles: when --train-steps is not given; online: a cap).",
    ),
    adversary_minutes: float = typer.Option(
        0.5, "--adversary-minutes", help="Adversary training time per cycle (online: a cap)."
    ),
    train_steps: int = typer.Option(
        None,
        "--train-steps",
        help="ML training steps per cycle, instead of --train-minutes (online: the steps between "
        "rounds, default 200).",
    ),
    adversary_steps: int = typer.Option(
        None,
        "--adversary-steps",
        help="Adversary training steps per cycle, instead of its minutes (online: default 50).",
    ),
    distill: int = typer.Option(
        0,
        "--distill",
        help="Online: training questions a cycle walked by ML in every role; root answers the "
        "adversary trusts become targets (zero overseer calls).",
    ),
    distill_confidence: float = typer.Option(
        0.9, "--distill-confidence", help="Keep a distilled answer where Adv's P(wrong) <= 1 - this."
    ),
    ema_horizon: int = typer.Option(
        100, "--ema-horizon", help="Online: the teacher's horizon in ML steps (an EMA of the weights)."
    ),
    step_share: float = typer.Option(
        None,
        "--step-share",
        help="Online: the chance that a drawn fan-out or fan-in row stays in ML's batch (answers "
        "always do; default 0.5). 1 keeps every row, as before.",
    ),
    root_weight: int = typer.Option(
        1,
        "--root-weight",
        help="Online: each amplified tree's root answer this many times in ML's replay (1: once, "
        "like every other row).",
    ),
    eval_questions: int = typer.Option(400, "--eval-questions"),
    curriculum: bool = typer.Option(
        False, "--curriculum", help="Start at size 8; grow when ML agrees (> 0.85)."
    ),
    alpha: float = options.alpha(),
    temperature: float = options.temperature(),
    confidence: float = options.confidence(
        help="Primed overseer threshold α' (as `ida round --confidence`) once an adversary exists."
    ),
    p: float = options.p(),
    prime_rate: float = options.prime_rate(),
    prime: bool = options.prime(),
    prime_error: float = typer.Option(
        None,
        "--prime-error",
        help="Online: choose α' after every adversary fit so that a 95% upper bound on the "
        "held-out error rate of the steps H' takes is at most this (instead of a fixed --confidence).",
    ),
    memo: bool = typer.Option(
        True, "--memo/--no-memo", help="The memoizing overseer in the rounds (as `ida round --memo`)."
    ),
    memo_stand_ins: bool = options.memo_stand_ins(),
    memo_primed: bool = options.memo_primed(),
    audit: bool = typer.Option(
        False,
        "--audit",
        help="Train the adversary also where no choice reads it (full, none, random, uncertainty) "
        "to report its AUROC; full HCH's rounds then have ML answer every child.",
    ),
    until: float = typer.Option(
        None, "--until", help="Stop once eval accuracy reaches this (0 < ACC <= 1), besides the budget."
    ),
    max_cycles: int = typer.Option(
        None, "--max-cycles", help="Stop after this many cycles even if budget is left."
    ),
    warm_start: bool = typer.Option(
        False,
        "--warm-start",
        help="Start each cycle's ML from the last cycle's weights and optimizer state instead of "
        "from scratch.",
    ),
    bucket: bool = typer.Option(
        False, "--bucket", help="ML's batches of similar lengths (as `ida train model --bucket`)."
    ),
    keep_checkpoints: int = typer.Option(
        None,
        "--keep-checkpoints",
        help="After every cycle delete all but the newest N model and adversary checkpoints "
        "(as `ida prune --keep N`).",
    ),
    device: str = typer.Option(
        "auto",
        "--device",
        help="Where ML and the adversary train: auto (a CUDA GPU when torch sees one), cpu or cuda. "
        "A resumed run may move.",
    ),
    extend: bool = typer.Option(
        False, "--extend", help="Resume a run with a larger --budget / --max-cycles and go on."
    ),
    name: str = typer.Option(None, "--name", help="Experiment name (default: task-strategy-seed)."),
    plot: Path = typer.Option(None, "--plot", help="Also draw the curve to this PNG."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Scripted active learning: rounds and training alternate until the budget; the learning curve."""
    from ida_cli.experiment.options import ExperimentOptions
    from ida_cli.experiment.run import run

    opts = ExperimentOptions(
        task=task,
        size=size,
        strategy=strategy,
        budget=budget,
        seed=seed,
        per_round=per_round,
        per_context=per_context,
        bootstrap=bootstrap,
        schedule=schedule,
        ema_horizon=ema_horizon,
        step_share=step_share,
        root_weight=root_weight,
        prime_error=prime_error,
        distill=distill,
        distill_confidence=distill_confidence,
        audit=audit,
        train_minutes=train_minutes,
        adversary_minutes=adversary_minutes,
        train_steps=train_steps,
        adversary_steps=adversary_steps,
        eval_questions=eval_questions,
        curriculum=curriculum,
        alpha=alpha,
        temperature=temperature,
        confidence=confidence,
        max_cycles=max_cycles,
        until=until,
        memo=memo,
        memo_stand_ins=memo_stand_ins,
        memo_primed=memo_primed,
        warm_start=warm_start,
        keep_checkpoints=keep_checkpoints,
        bucket=bucket,
        p=p,
        prime_rate=prime_rate,
        prime=prime,
        device=device,
    )
    if plot is not None:
        from ida_cli.project.outputs import Protected, check_output

        check_output(plot, Protected.of(store(ctx, "experiment")), force=True)
    err = console(stderr=True)

    def on_event(phase: str, state: dict[str, Any]) -> None:
        accuracy = state.get("accuracy")
        last = "" if accuracy is None else f", eval accuracy {accuracy:.1%}"
        wall, cpu = state.get("wall", 0.0), state.get("cpu", 0.0)
        steps = f", ML steps {state['steps']}" if state.get("steps") else ""
        err.print(
            f"cycle {state['cycle']}: {phase} (overseer calls {state['calls']}, "
            f"labelled {state['labelled']}, size {state['size']}{steps}{last}, {wall:.0f} s, "
            f"CPU {cpu:.0f} s)",
            soft_wrap=True,
        )

    points = run(store(ctx, "experiment"), opts, name or f"{task}-{strategy}-{seed}", on_event, extend)
    if plot is not None:
        from ida_cli.experiment.report import plot_curves

        plot_curves(points, plot)
    if as_json:
        emit_json(points)
        return
    from ida_cli.cli.render import curve_table

    console().print(curve_table(points))


def report(
    paths: list[Path] = typer.Argument(
        ..., help="Experiment databases and grid results files (`ida grid`) to compare, or folders of them."
    ),
    plot: Path = typer.Option(None, "--plot", help="Draw accuracy against overseer calls to this PNG."),
    level: list[float] = typer.Option(
        [],
        "--level",
        help="An accuracy to report HC at (repeat it; default 0.9, 0.95 and 0.99): a task whose runs "
        "stop lower is compared at what they reach.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare experiments: HC@0.9/0.95/0.99 (or each --level) and final accuracy per task and
    strategy, with 95% bootstrap intervals over seeds, and each strategy's calls over full HCH's and
    the best baseline's."""
    from ida_cli.experiment.report import check_levels, compare, plot_curves, ratios, read_curves

    levels = check_levels(level)

    if plot is not None:
        from ida_cli.project.outputs import Protected, check_output
        from ida_cli.store import Store

        for path in paths:
            if path.suffix == ".duckdb":
                check_output(plot, Protected.of(Store(path)), force=True)
    points, empty = read_curves(paths)
    for db in empty:
        console(stderr=True).print(f"warning: {db} has no curve point yet: left out")
    if plot is not None:
        plot_curves(points, plot)
    table, against = compare(points, levels), ratios(points, levels)
    if as_json:
        emit_json({"summary": table, "ratios": against, "points": points})
        return
    from ida_cli.cli.render import compare_table, ratio_table, terminal_plot

    console().print(compare_table(table, levels))
    if any(r["full"] or r["best_baseline"] or r["supervised_cpu"] for r in against):
        console().print(ratio_table(against))
    console().print(terminal_plot(points))
