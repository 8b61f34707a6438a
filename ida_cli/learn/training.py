"""`ida train model`: gather everything stored, train ML, record a numbered version.

Amplified training (the default) learns ML.answer from every amplified node's final answer
(docs/spec.md §2.2's L_ML, H' included) and ML.fan_out / ML.fan_in from the real overseer's steps (never
ML's own).
`--supervised` learns ML.answer from the ground truth of the training questions instead: the
baseline every learning curve is compared with. The eval split is never read here."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ida_cli.errors import Interrupted, UsageError
from ida_cli.learn import checkpoints
from ida_cli.learn.data import HELD_OUT_EVERY, Rows, check_data, gather, resolve_task
from ida_cli.learn.options import TrainModelOptions
from ida_cli.store import Store, versions


def train_model(
    store: Store, opts: TrainModelOptions, on_progress: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    from ida_cli.learn import runner
    from ida_cli.model import dist as distributed

    opts.check()
    d = distributed.setup()  # under torchrun: rank 0 writes, every rank trains
    from ida_cli.learn.distill import check_options, distill_targets

    check_options(opts.distill, opts.distill_confidence, opts.supervised)
    with store.read() as con:
        task = resolve_task(con, opts.task)
        rows = gather(con, task, opts.supervised)
        check_data(con, task, rows, opts.supervised)
        resume_row = _resumable(con, task) if opts.resume else None
    distilled = None
    if opts.distill:
        # before the new version exists: the walk uses the latest model and adversary
        distilled = distill_targets(store, task, opts.distill, opts.distill_confidence, opts.seed)
        rows.items += distilled.rows
    if opts.resume and resume_row is None:
        raise UsageError(
            f"no interrupted model training for task {task} to resume: run `ida train model` without --resume"
        )
    warm, start = None, "resumed" if resume_row is not None else "from scratch"
    if not opts.fresh and resume_row is None:
        from ida_cli.learn.versions import load_payload

        # before the version row: a parent that cannot be loaded leaves nothing behind
        parent = load_payload(store, task)  # None for the first version: start from scratch
        why = None if parent is None else cannot_continue(parent, task, rows, opts)
        if why is not None and opts.warm:
            raise UsageError(f"--warm: {why}; train with --fresh")
        if parent is not None and why is None:
            warm, start = parent, f"continued from v{parent['version']}"
        elif why is not None:
            start = f"from scratch ({why})"
    if resume_row is not None:
        version, vid = resume_row[0], resume_row[1]
    elif not d.main:
        version, vid = d.broadcast(None)
    else:
        with store.write() as con:
            vid, version = versions.allocate(con, "model")
            versions.start_model(
                con, vid, version, task, {"supervised": opts.supervised}, _counts(rows, distilled)
            )
        d.broadcast((version, vid))
    ckdir = checkpoints.folder(store)
    started = time.perf_counter()
    try:
        result = runner.run(task, rows, opts, version, ckdir, HELD_OUT_EVERY, on_progress, warm)
    except KeyboardInterrupt:
        if not d.main:
            raise Interrupted("interrupted") from None
        with store.write() as con:
            versions.set_status(con, vid, "interrupted")
        raise Interrupted(
            f"interrupted: model v{version} saved at its last evaluation; continue with "
            "`ida train model --resume`"
        ) from None
    except BaseException:
        if d.main:
            with store.write() as con:
                versions.set_status(con, vid, "failed")
        raise
    metrics = {**result["metrics"], "wall_seconds": time.perf_counter() - started, "start": start}
    if not d.main:
        return {"task": task, "version": version, "rank": d.rank, "metrics": metrics}
    with store.write() as con:
        checkpoints.publish(store, Path(result["checkpoint"]), result["sha256"], con)
        versions.finish_model(
            con,
            vid,
            result["config"],
            _counts(rows, distilled),
            metrics,
            checkpoints.record(store, Path(result["checkpoint"])),
            result["sha256"],
        )
    return {
        "task": task,
        "version": version,
        "supervised": opts.supervised,
        "data": _counts(rows, distilled),
        "checkpoint": str(result["checkpoint"]),
        "sha256": result["sha256"],
        "metrics": metrics,
        "config": result["config"],
        "rank": d.rank,
    }


def cannot_continue(parent: dict[str, Any], task: str, rows: Rows, opts: TrainModelOptions) -> str | None:
    """Why the latest version cannot be trained on with this run's recipe, or None: another shape,
    the other kind of targets, or (free-text tasks, whose vocabulary is exact) tokens it lacks."""
    config, v = parent["config"], parent["version"]
    for key in ("layers", "loop", "width"):
        asked = getattr(opts, key)
        if asked is not None and asked != config.get(key):
            return f"--{key} {asked} differs from v{v}'s {config.get(key)}"
    was = parent.get("supervised")
    if was is not None and was != opts.supervised:
        kind = "the ground truth" if was else "amplified targets"
        return f"v{v} was trained on {kind}"
    if task == "user":
        from ida_cli.learn.runner import to_examples

        known = set(parent["vocab"])
        _, seen = to_examples(task, rows, None)
        new = [t for t in seen.tokens if t not in known]
        if new:
            return f"{len(new)} tokens are new since v{v}"
    return None


def _counts(rows: Rows, distilled: Any) -> dict[str, Any]:
    out: dict[str, Any] = rows.counts()
    if distilled is not None:
        out["distill"] = distilled.stats()
    return out


def _resumable(con: Any, task: str) -> tuple[int, int] | None:
    return versions.resumable_model(con, task)
