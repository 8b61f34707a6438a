"""Model and adversary versions: which one is current, and loading its checkpoint safely."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ida_cli.errors import NotFound, UsageError
from ida_cli.learn import checkpoints
from ida_cli.store import Store, versions

if TYPE_CHECKING:
    from ida_cli.model.decode import TorchML


def is_pruned(store: Store, kind: str, version: int) -> bool:
    with store.read() as con:
        return versions.is_pruned(con, kind, version)


def load_payload(store: Store, task: str) -> dict[str, Any] | None:
    """The latest ready model checkpoint for `task` (verified), with its "version", or None."""
    with store.read() as con:
        info = versions.latest(con, "model", task)
    if info is None or info.task != task:
        return None
    return {**checkpoints.load(store, info), "version": info.version}


def load_model(store: Store, task: str, version: int | None = None, required: bool = True) -> TorchML | None:
    """The current (or given) model for `task`, its checkpoint verified against the recorded hash."""
    with store.read() as con:
        info = versions.latest(con, "model", task, version)
    if info is None:
        if version is not None:
            if is_pruned(store, "model", version):
                raise NotFound(
                    f"model v{version}'s checkpoint was deleted by `ida prune`: use a kept version "
                    "(see `ida status`) or retrain with `ida train model`"
                )
            raise NotFound(f"no trained model version {version}: see `ida status` for the versions")
        if required:
            raise UsageError(f"no trained model for task {task}: run `ida train model --task {task}` first")
        return None
    if info.task != task:
        raise UsageError(
            f"model v{info.version} was trained for task {info.task}, not {task}: train one "
            f"with `ida train model --task {task}`"
        )
    from ida_cli.model.decode import load_ml

    _inference_threads()
    payload = checkpoints.load(store, info)
    if payload.get("task") != task:
        raise UsageError(f"checkpoint {info.checkpoint} is for task {payload.get('task')}, not {task}")
    return load_ml(payload, info.version)


def _inference_threads() -> None:
    """IDA_THREADS, when set, also bounds the torch threads of rounds, eval and audits: with two
    threads on cores that other processes keep busy, a one-question decoding call took 0.17 s
    against 0.011 s on one thread (OpenMP waiting on the busy core, bench/RESULTS.md)."""
    import os

    if os.environ.get("IDA_THREADS"):
        import torch

        from ida_cli.learn.runner import threads

        torch.set_num_threads(threads())
