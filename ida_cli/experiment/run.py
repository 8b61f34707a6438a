"""`ida experiment`: scripted active learning end to end (docs/spec.md §2 and 5).

Each cycle amplifies a fixed number of training questions, trains ML and the adversary (on from
where they were: `--schedule online`, `ida_cli.experiment.online`; or from scratch unless
--warm-start: `--schedule cycles`), evaluates, and stores one point of the learning curve (the
phases are in `ida_cli.experiment.cycle`). Every phase commits before the next starts and the
position is stored, so a killed experiment resumes where it stopped. The
`supervised` pseudo-strategy is the baseline: each cycle labels the same number of new questions
with their ground truth and trains on all labelled so far; its curve is in labelled examples."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.experiment.options import EXTENDABLE, FREE, ExperimentOptions, before
from ida_cli.store import Store, experiments
from ida_cli.store.questions import tree_totals


def _cap(value: float | None) -> float:
    return float("inf") if value is None else value


def _flags(opts: ExperimentOptions) -> dict[str, Any]:
    return asdict(opts)


def _save_state(store: Store, name: str, state: dict[str, Any], status: str = "running") -> None:
    with store.write() as con:
        experiments.save_state(con, name, state, status)


def start(store: Store, opts: ExperimentOptions, name: str, extend: bool = False) -> dict[str, Any]:
    """Create the experiment, or check that a resumed one has the same flags; return its state.
    With `extend`, a resumed experiment may raise its --budget and --max-cycles (they only decide
    when it stops, so the curve so far stands) and runs on from where it ended."""
    opts.check()
    flags = _flags(opts)
    with store.write() as con:
        found = experiments.load(con, name)
        if found is not None:
            old, state = found.flags, found.state
            # a flag added since the experiment started counts as its default
            defaults = {**{f.name: f.default for f in fields(ExperimentOptions)}, **before(old)}
            stretch = EXTENDABLE if extend else ()
            differ = [
                f"--{k.replace('_', '-')} ({old.get(k, defaults[k])} → {v})"
                for k, v in flags.items()
                if old.get(k, defaults[k]) != v and k not in stretch and k not in FREE
            ]
            if differ:
                raise UsageError(
                    f"experiment '{name}' was started with other flags: {', '.join(differ)}; use the "
                    "same flags to resume"
                    + ("" if extend else " (or --extend to raise --budget / --max-cycles)")
                    + ", or another --db / --name"
                )
            for k in stretch:
                was, now_ = old.get(k, defaults[k]), flags[k]
                if _cap(now_) < _cap(was):  # no --max-cycles: no cap
                    raise UsageError(
                        f"--extend only raises --{k.replace('_', '-')} ({was} → {now_}): give a larger value"
                    )
            if extend or any(old.get(k, defaults[k]) != flags[k] for k in FREE):
                experiments.set_flags(con, name, flags)
            return state
        if extend:
            raise UsageError(f"no experiment '{name}' to extend: run it without --extend first")
        others = experiments.every(con)
        if others:
            raise UsageError(
                f"this database holds experiment '{others[0].name}': one experiment a database, use "
                "another --db"
            )
        state = {
            "cycle": 0,
            "phase": "round",
            "size": 8 if opts.curriculum else opts.size,
            "calls": 0,
            "primitive": 0,
            "labelled": 0,
            "wall": 0.0,
            "agreement": [],
            "sizes_generated": [],
            # what the database had spent before: labelled, calls and primitive calls are counted
            # from its trees (a killed round's stored trees are paid for, and trained on)
            "spent_before": list(tree_totals(con, opts.task)),
        }
        experiments.create(con, name, flags, state)
    return state


def run(
    store: Store,
    opts: ExperimentOptions,
    name: str,
    on_event: Callable[[str, dict[str, Any]], None],
    extend: bool = False,
) -> list[dict[str, Any]]:
    from ida_cli.experiment import cycle, online
    from ida_cli.learn.data import ReplayCache
    from ida_cli.project import questions

    state = start(store, opts, name, extend)
    cache = ReplayCache()  # the rows of earlier cycles, for this process's later ones
    if not state.get("eval_generated"):
        questions.generate(store, opts.task, opts.size, opts.eval_questions, opts.seed, "eval", per_context=4)
        state["eval_generated"] = True
        _save_state(store, name, state)
    while True:
        spent = state["labelled"] if opts.strategy == "supervised" else state["calls"]
        if state["phase"] == "round" and (
            spent >= opts.budget
            or (opts.max_cycles is not None and state["cycle"] >= opts.max_cycles)
            or reached(opts, state)
        ):
            break
        t0, c0 = time.perf_counter(), time.process_time()
        phase = state["phase"]
        on_event(phase, state)
        if phase == "round":
            cycle.label(store, opts, state)
            state["phase"] = "model"
        elif phase == "model" and opts.schedule == "online":
            online.fit(store, opts, state, cache)  # ML and the adversary, on from where they were
            state["phase"] = "eval"
        elif phase == "model":
            cycle.fit_model(store, opts, state)
            state["phase"] = "adversary" if opts.trains_adversary() else "eval"
        elif phase == "adversary":
            cycle.fit_adversary(store, opts, state)
            state["phase"] = "eval"
        else:
            cycle.record(store, opts, name, state, time.perf_counter() - t0, time.process_time() - c0)
            state["cycle"] += 1
            state["phase"] = "round"
            if opts.keep_checkpoints:
                from ida_cli.learn.prune import prune

                prune(store, opts.keep_checkpoints)
        state["wall"] += time.perf_counter() - t0
        state["cpu"] = state.get("cpu", 0.0) + time.process_time() - c0
        _save_state(store, name, state)
        if phase == "model" and opts.schedule == "online":
            from ida_cli.learn.online import drop_stale_live

            drop_stale_live(store, state["live"])  # only now that the new live state is recorded
    _save_state(store, name, state, "done")
    return curve(store, name)


def reached(opts: ExperimentOptions, state: dict[str, Any]) -> bool:
    """--until: the last evaluation reached the target accuracy."""
    accuracy = state.get("accuracy")
    return opts.until is not None and accuracy is not None and accuracy >= opts.until


def curve(store: Store, name: str | None = None) -> list[dict[str, Any]]:
    with store.read() as con:
        return experiments.curve(con, name)


def option_names() -> list[str]:
    return [f.name for f in fields(ExperimentOptions)]
