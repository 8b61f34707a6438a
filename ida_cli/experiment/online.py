"""The online schedule's training phase (`ida experiment --schedule online`, the default).

Where a cycle of `--schedule cycles` trains ML and the adversary from scratch, here they train on:
ML from the live state for `--train-steps` more steps (else 200, capped by `--train-minutes`) on
every stored row, its EMA teacher published as the next model version (the one the next round and
the eval use), then the adversary on for `--adversary-steps` on the teacher's errors, published
against it. The live state is saved last; `ida_cli.experiment.run` records it with the phase, so a killed
run resumes from the last committed cycle with the same optimizer state and the same draws."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ida_cli.experiment.options import ExperimentOptions
from ida_cli.store import Store

if TYPE_CHECKING:
    from ida_cli.learn.data import ReplayCache

ONLINE_TRAIN_STEPS = 200  # ML steps a cycle when --train-steps is not given
ONLINE_ADVERSARY_STEPS = 50
VOCABULARY_SAMPLE = 300  # training questions whose expert trees fix the vocabulary
REPLAY = 10_000  # distilled targets kept (the paper's answerer buffer); overseer rows are never dropped


def steps(opts: ExperimentOptions) -> tuple[int, int]:
    return opts.train_steps or ONLINE_TRAIN_STEPS, opts.adversary_steps or ONLINE_ADVERSARY_STEPS


def fit(
    store: Store, opts: ExperimentOptions, state: dict[str, Any], cache: ReplayCache | None = None
) -> None:
    """`cache`: the rows and examples of the process's earlier cycles (the same data, read faster)."""
    from ida_cli.learn import online
    from ida_cli.learn.continual import Learner, LearnerConfig, vocabulary
    from ida_cli.learn.data import check_data, gather
    from ida_cli.model import device
    from ida_cli.store import questions

    supervised = opts.strategy == "supervised"
    online.drop_stale_live(store, state.get("live"))
    with store.read() as con:
        rows = gather(con, opts.task, supervised, cache.rows if cache is not None else None)
        check_data(con, opts.task, rows, supervised)
        sample = (
            None
            if state.get("live")
            else questions.sample_train(con, opts.task, opts.seed, VOCABULARY_SAMPLE)
        )
    adversary, replay = None, []
    dev = device.resolve(opts.device)
    if state.get("live"):
        live = online.load_live(store, state["live"], state["live_sha"])
        learner, adversary = Learner.from_state(live, dev), live.get("adversary")
        replay = json.loads(live.get("replay") or "[]")
    else:
        assert sample is not None
        vocab = vocabulary(opts.task, sample, rows)
        cfg = LearnerConfig(seed=opts.seed, ema_horizon=opts.ema_horizon, step_share=opts.share())
        learner = Learner.fresh(opts.task, vocab, cfg, dev)
    ml_steps, adv_steps = steps(opts)
    learner.set_data(rows.weighted(opts.root_weight).plus([tuple(r) for r in replay]), cache)
    # --train-steps given: exactly that many (a curve that does not depend on the machine's load);
    # else the default steps, capped by --train-minutes
    cap = float("inf") if opts.train_steps else time.perf_counter() + opts.train_minutes * 60
    trained = learner.train(ml_steps, cap)
    counts = rows.counts()
    version = online.publish_teacher(
        store,
        learner,
        counts,
        {
            "schedule": "online",
            "steps": learner.step,
            "cycle_steps": trained["steps"],
            "loss": trained["loss"],
            "seconds": trained["seconds"],
            "train_examples": learner.examples,
        },
    )
    if opts.trains_adversary():
        adversary, state["adversary_version"], held = online.fit_adversary(
            store,
            learner.teacher(version),
            rows,
            adversary,
            opts.seed + state["cycle"],
            adv_steps,
            float("inf") if opts.adversary_steps else opts.adversary_minutes,
        )
        if opts.prime_error is not None:  # H''s threshold follows the adversary's measured quality
            from ida_cli.experiment.priming import choose

            state["confidence"] = choose(held, opts.strategy, opts.prime_error)
        if opts.distill:  # targets for the next cycles, from the teacher and adversary just published
            from ida_cli.learn.distill import distill_targets

            got = distill_targets(
                store, opts.task, opts.distill, opts.distill_confidence, opts.seed * 7919 + state["cycle"]
            )
            replay = [*replay, *got.rows][-REPLAY:]
            state["distilled"] = state.get("distilled", 0) + got.kept
    live_state = {**learner.state(), "adversary": adversary, "replay": json.dumps(replay)}
    name, sha = online.save_live(store, live_state, learner.step)
    state.update(live=name, live_sha=sha, steps=learner.step, model_version=version)
