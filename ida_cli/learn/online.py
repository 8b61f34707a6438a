"""The online engine's store side: the teacher and the adversary published as numbered versions
(so `ida round`, `ida eval`, audits and `ida status` see them as any other), and the live state
(student, teacher, optimizers, the sampler's generator) kept as one checkpoint beside the database.

A live state is written under a new name and recorded (with its SHA-256) in the experiment's state
by the caller's next commit; older ones are deleted only after that, so a kill at any point leaves
the recorded state on disk."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ida_cli.learn import checkpoints
from ida_cli.learn.data import HELD_OUT_EVERY, Rows
from ida_cli.store import Store, versions

if TYPE_CHECKING:
    from ida_cli.learn.continual import Learner
    from ida_cli.model.decode import TorchML

LIVE_PREFIX = "online-step"
JUDGED_ROWS = 3000  # rows the adversary judges ML on per cycle (a uniform sample)


def publish_teacher(store: Store, learner: Learner, counts: dict[str, Any], metrics: dict[str, Any]) -> int:
    """The teacher as the next model version: checkpoint and row in one write transaction, so a
    kill leaves no version half made."""
    from ida_cli.model.train import save_checkpoint

    payload = learner.teacher_payload()
    with store.write() as con:
        vid, version = versions.allocate(con, "model")
        path = checkpoints.folder(store) / f"model-v{version}.pt"
        sha = save_checkpoint(path, payload)
        checkpoints.publish(store, path, sha, con)
        versions.start_model(con, vid, version, learner.task, {"schedule": "online"}, counts)
        versions.finish_model(
            con, vid, payload["config"], counts, metrics, checkpoints.record(store, path), sha
        )
    return version


def fit_adversary(
    store: Store,
    ml: TorchML,
    rows: Rows,
    init: dict[str, Any] | None,
    seed: int,
    steps: int,
    minutes: float,
) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """The adversary trained on (from `init` when given) for `steps` steps on ML's errors on a
    sample of the rows, recalibrated and published against `ml`'s version; its weights and
    optimizer state for the next cycle, its version, and the held-out nodes its calibration did
    not see (`adversary.train.fit`)."""
    from adversary import train as adv_train
    from ida_cli.learn.adversarial import TrainAdvOptions, judge, publish

    started = time.perf_counter()
    if len(rows.items) > JUDGED_ROWS:
        keep = np.random.default_rng(seed).choice(len(rows.items), JUDGED_ROWS, replace=False)
        rows = Rows([rows.items[i] for i in sorted(keep)])
    judged = judge(ml, ml.task, rows)
    # the steps decide, the minutes cap them, and patience never stops a short fit
    opts = TrainAdvOptions(
        task=ml.task,
        minutes=minutes,
        max_steps=steps,
        seed=seed,
        eval_every=max(1, steps // 2),
        patience=1000,
    )
    result = adv_train.fit(ml, judged, opts, HELD_OUT_EVERY, None, init)
    version, *_ = publish(store, ml.task, ml.version, judged, result, started)
    return {"model": result["payload"]["model"], "optimizer": result["optimizer"]}, version, result["held"]


def save_live(store: Store, state: dict[str, Any], step: int) -> tuple[str, str]:
    """Write the live state under a name of its own; (file name, SHA-256) for the caller to record."""
    from ida_cli.model.train import save_checkpoint

    path = checkpoints.folder(store) / f"{LIVE_PREFIX}{step}.pt"
    return path.name, save_checkpoint(path, state)


def load_live(store: Store, name: str, sha: str) -> dict[str, Any]:
    from ida_cli.model.train import CheckpointError, load_checkpoint

    path = checkpoints.folder(store) / name
    try:
        return load_checkpoint(path, sha, "model")
    except CheckpointError:
        raise CheckpointError(
            f"the online experiment's state {path} is missing or damaged: its curve and trees are kept; "
            "continue in a new --db, or restore the file"
        ) from None


def drop_stale_live(store: Store, keep: str | None) -> None:
    """Delete live states other than the recorded one (left by a kill before their commit)."""
    folder = checkpoints.folder(store)
    if not folder.is_dir():
        return
    for path in folder.glob(f"{LIVE_PREFIX}*.pt"):
        if path.name != keep:
            path.unlink(missing_ok=True)
