"""ida round."""

from __future__ import annotations

import typer

from ida_cli.cli import options
from ida_cli.cli.common import JSON_OPTION, console, emit_json, store


def register(app: typer.Typer) -> None:
    app.command("round")(round_)


def round_(
    ctx: typer.Context,
    oracle: str = typer.Option(
        "scripted", "--oracle", help="scripted: the task's expert (a person labels with `ida label`)."
    ),
    strategy: str = options.strategy(help="adversary, bernoulli, uncertainty, random, full, none."),
    questions: int = typer.Option(10, "--questions", help="How many training questions to amplify."),
    task: str = typer.Option(None, "--task", help="Task (default: the only one with questions, or init's)."),
    pick: str = typer.Option(
        "random", "--pick", help="random, or adversary (where the adversary predicts ML fails)."
    ),
    alpha: float = options.alpha(help="Recursion threshold (bernoulli, uncertainty)."),
    alpha_end: float = typer.Option(
        None, "--alpha-end", help="Anneal α linearly to this over the round's trees (bernoulli, uncertainty)."
    ),
    temperature: float = options.temperature(help="Exploration temperature τ > 0."),
    confidence: float = options.confidence(),
    prime_rate: float = options.prime_rate(),
    prime: bool = options.prime(),
    p: float = options.p(),
    seed: int = options.seed(),
    memo: bool = typer.Option(
        True,
        "--memo/--no-memo",
        help="Answer a subquestion the expert already answered in the tree from memory: a memo hit, "
        "not an overseer call.",
    ),
    memo_stand_ins: bool = options.memo_stand_ins(),
    memo_primed: bool = options.memo_primed(),
    workers: int = typer.Option(
        None, "--workers", help="Walk the trees in N local processes (the same trees as one process)."
    ),
    ray: str = typer.Option(
        None, "--ray", help="Walk the trees on the Ray cluster at this address (pip install 'ida[ray]')."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Amplify C training questions; store the trees; report overseer calls and accuracy."""
    from ida_cli.cli.render import progress_bar
    from ida_cli.rounds.run import RoundOptions, load_models, run_round

    opts = RoundOptions(
        task=task,
        oracle=oracle,
        strategy=strategy,
        questions=questions,
        pick=pick,
        seed=seed,
        alpha=alpha,
        temperature=temperature,
        confidence=confidence,
        prime_rate=prime_rate,
        prime=prime,
        p=p,
        alpha_end=alpha_end,
        workers=workers,
        ray=ray,
        memo=memo,
        memo_stand_ins=memo_stand_ins,
        memo_primed=memo_primed,
    )
    db = store(ctx, "round")
    ml = scorer = None
    if strategy != "full" or pick != "random" or confidence is not None or prime_rate is not None:
        ml, scorer, warnings = load_models(db, opts)
        for w in warnings:
            console(stderr=True).print(f"warning: {w}")
    with progress_bar("amplifying", enabled=not as_json) as advance:
        result = run_round(db, opts, progress=advance, ml=ml, scorer=scorer)
    doc = result.to_json()
    if doc.get("questions_available") is not None:
        console(stderr=True).print(
            f"warning: {questions} questions asked, only {doc['questions_available']} unlabelled training "
            f"questions were left for task {doc['task']}: generate more with `ida questions generate`",
            soft_wrap=True,
        )
    if as_json:
        emit_json(doc)
        return
    from ida_cli.cli.render import round_table

    console().print(round_table(doc))
