"""One cycle of `ida experiment`, phase by phase: a round (or, for the supervised baseline, a
batch of labelled questions), ML's training, the adversary's, and the evaluation that stores one
point of the curve. Each phase reads the options and the experiment's state and updates the state;
`ida_cli.experiment.run` commits it between phases."""

from __future__ import annotations

from typing import Any

from ida_cli.experiment.options import ExperimentOptions
from ida_cli.store import Store, experiments

AGREEMENT_WINDOW, AGREEMENT_TARGET = 3, 0.85
STEP_BUDGET_MINUTES = 60.0  # with a step budget, time is only a backstop


def ensure_pool(store: Store, opts: ExperimentOptions, state: dict[str, Any]) -> None:
    from ida_cli.project import questions
    from ida_cli.store import records
    from ida_cli.store.questions import train_count

    size = state["size"]
    if size not in state["sizes_generated"]:
        questions.generate(
            store, opts.task, size, opts.pool, opts.seed + 1000 * size, "train", opts.per_context
        )
        state["sizes_generated"].append(size)
    # a long run outgrows one pool (1,280 questions a cycle used up 20,000 in 16 cycles, and the
    # run stopped). Another pool has its own seed, numbered by the pools already stored, so a rerun
    # after a kill between this and the round makes none twice
    with store.read() as con:
        left = len(records.unlabelled_pool(con, opts.task))
        made = train_count(con, opts.task, size)
    if left < opts.per_round:
        more = made // opts.pool
        seed = opts.seed + 1000 * size + 1_000_000 * more
        questions.generate(store, opts.task, size, opts.pool, seed, "train", opts.per_context)


def label(store: Store, opts: ExperimentOptions, state: dict[str, Any]) -> None:
    """The cycle's new labels: a round of amplification, or ground truth for the baseline."""
    from ida_cli.project import questions
    from ida_cli.rounds.run import RoundOptions, load_models, run_round

    if opts.strategy == "supervised":  # labelling = generating questions with their ground truth
        seed = opts.seed * 7919 + state["cycle"]
        questions.generate(store, opts.task, opts.size, opts.per_round, seed, "train", opts.per_context)
        state["labelled"] += opts.per_round
        return
    ensure_pool(store, opts, state)
    ropts = RoundOptions(
        task=opts.task,
        strategy=opts.strategy,
        questions=opts.per_round,
        seed=opts.seed * 10007 + state["cycle"],
        alpha=opts.alpha,
        temperature=opts.temperature,
        p=opts.p,
        # --prime-error: the α' chosen after the last adversary fit (experiment/priming.py); until
        # there is one, the default α'
        confidence=state.get("confidence") if opts.prime_error is not None else opts.confidence,
        prime_rate=opts.prime_rate,
        prime=opts.prime,
        memo=opts.memo,
        memo_stand_ins=opts.memo_stand_ins,
        memo_primed=opts.memo_primed,
    )
    if opts.round_ml():
        ml, scorer, _ = load_models(store, ropts)
        first = ml is None
        if not opts.trains_adversary():
            scorer = None
    else:  # full HCH, not audited: ML would only answer what nothing reads, so it is not loaded
        from ida_cli.store import versions

        with store.read() as con:
            first = versions.latest(con, "model", opts.task) is None
        ml = scorer = None
    if first and opts.bootstrap:  # the first round: every question costs full HCH
        ropts.questions = opts.bootstrap
    if ml is None or (scorer is None and opts.strategy in ("adversary", "bernoulli")):
        ropts.strategy, ropts.alpha, ropts.p = "full", None, None  # bootstrap: nothing to stand in for H yet
    if ml is None or (scorer is None and ropts.priming()[0] == "adversary"):
        ropts.confidence = ropts.prime_rate = None  # H' is H until what it decides by exists
    result = run_round(store, ropts, ml=ml, scorer=scorer)
    if "spent_before" in state:  # counted from the store: a killed round's stored trees count too
        from ida_cli.store.questions import tree_totals

        with store.read() as con:
            now = tree_totals(con, opts.task)
        state["labelled"], state["calls"], state["primitive"] = (
            n - before for n, before in zip(now, state["spent_before"], strict=True)
        )
    else:  # an experiment started before the counts were taken from the store
        state["calls"] += result.overseer_calls
        state["primitive"] += result.primitive_calls
        state["labelled"] += result.trees
    state["round_id"] = result.round_id
    if opts.curriculum:
        curriculum(store, opts, state, result.round_id)


def curriculum(store: Store, opts: ExperimentOptions, state: dict[str, Any], round_id: int) -> None:
    """The 2018 paper's curriculum: raise the size by one when ML agrees with the amplified targets
    (ML's recorded answer equals the overseer's) above 0.85 over a moving window of rounds."""
    with store.read() as con:
        agree, total = experiments.round_agreement(con, round_id)
    if total:
        state["agreement"] = [*state["agreement"], agree / total][-AGREEMENT_WINDOW:]
    window = state["agreement"]
    if (
        len(window) == AGREEMENT_WINDOW
        and sum(window) / len(window) > AGREEMENT_TARGET
        and state["size"] < opts.size
    ):
        state["size"] += 1
        state["agreement"] = []


def fit_model(store: Store, opts: ExperimentOptions, state: dict[str, Any]) -> None:
    from ida_cli.learn.options import TrainModelOptions
    from ida_cli.learn.training import train_model

    done = train_model(
        store,
        TrainModelOptions(
            task=opts.task,
            supervised=opts.strategy == "supervised",
            minutes=STEP_BUDGET_MINUTES if opts.train_steps else opts.train_minutes,
            max_steps=opts.train_steps or 0,
            warm=opts.warm_start,
            fresh=not opts.warm_start,  # --schedule cycles: from scratch unless --warm-start
            bucket=opts.bucket,
            seed=opts.seed + state["cycle"],
            eval_every=100,
            patience=4,
            device=opts.device,
        ),
    )
    state["steps"] = state.get("steps", 0) + int(done["metrics"]["steps"])


def fit_adversary(store: Store, opts: ExperimentOptions, state: dict[str, Any]) -> None:
    from ida_cli.learn.adversarial import TrainAdvOptions, train_adversary

    train_adversary(
        store,
        TrainAdvOptions(
            task=opts.task,
            minutes=STEP_BUDGET_MINUTES if opts.adversary_steps else opts.adversary_minutes,
            max_steps=opts.adversary_steps or 0,
            seed=opts.seed,
            eval_every=50,
            patience=4,
            max_rows=20000,
        ),
    )


def record(
    store: Store, opts: ExperimentOptions, name: str, state: dict[str, Any], seconds: float, cpu: float
) -> None:
    from ida_cli.learn.evaluate import evaluate

    r = evaluate(store, opts.task, "eval")
    window = state["agreement"]
    state["accuracy"] = r["accuracy"]  # what --until reads
    with store.write() as con:
        experiments.add_point(
            con,
            name,
            {
                "cycle": state["cycle"],
                "strategy": opts.strategy,
                "task": opts.task,
                "size": state["size"],
                "seed": opts.seed,
                "overseer_calls": state["calls"],
                "primitive_calls": state["primitive"],
                "labelled": state["labelled"],
                "accuracy": r["accuracy"],
                "adversary_auroc": r.get("adversary_auroc"),
                "uncertainty_auroc": r.get("uncertainty_auroc"),
                "agreement": (sum(window) / len(window)) if window else None,
                "model_version": r["model_version"],
                "adversary_version": r.get("adversary_version"),
                "round_id": state.get("round_id"),
                "wall_seconds": state["wall"] + seconds,
                "cpu_seconds": state.get("cpu", 0.0) + cpu,
                # ML's training steps so far: per cycle from scratch, or the online learner's count
                "steps": state.get("steps", 0),
            },
        )
