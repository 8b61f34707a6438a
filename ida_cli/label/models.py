"""Where an `ida label` session gets ML and the adversary, and the thin wrappers that let the
screen see what ML answered and what the strategy picked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ida_cli.errors import UsageError
from ida_cli.learn import checkpoints
from ida_cli.store import Store, versions
from ida_cli.vocabulary import JSON, Step, Transcript
from ida_cli.walk.ports import ML, Scorer
from ida_cli.walk.strategies import Choice, Strategy, recursion_chances


class Models(Protocol):
    """Where the session gets ML and the adversary: the current versions, and given versions."""

    def current(self, task: str) -> tuple[int | None, int | None]: ...

    def load(
        self, task: str, model: int | None, adversary: int | None
    ) -> tuple[ML | None, Scorer | None]: ...


class StoreModels:
    """The models stored beside the database, loaded once per version."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[int | None, int | None], tuple[ML | None, Scorer | None]] = {}

    def current(self, task: str) -> tuple[int | None, int | None]:

        with self.store.read() as con:
            model = versions.latest(con, "model", task)
            adversary = versions.latest(con, "adversary", task) if model else None
        return (model.version if model else None, adversary.version if adversary else None)

    def load(self, task: str, model: int | None, adversary: int | None) -> tuple[ML | None, Scorer | None]:
        key = (model, adversary)
        if key not in self._cache:
            from ida_cli.learn.versions import load_model

            ml = load_model(self.store, task, version=model) if model is not None else None
            scorer = load_adversary(self.store, task, adversary, ml) if adversary and ml else None
            self._cache[key] = (ml, scorer)
        return self._cache[key]


def load_adversary(store: Store, task: str, version: int, ml: Any) -> Scorer:
    """Adversary `version` (as adversarial.load_scorer loads the latest one)."""

    from ida_cli.learn.adversarial import scorer_from_payload

    with store.read() as con:
        info = versions.latest(con, "adversary", task, version)
        if info is None:
            raise UsageError(f"adversary v{version} is gone: see `ida status` for the versions")
        judged = versions.judged_model(con, version)
    return scorer_from_payload(checkpoints.load(store, info), ml, version, judged)


class SeenML:
    """ML as the walker uses it, reporting its answers to subquestions to the overseer."""

    def __init__(self, ml: ML, seen: Callable[[list[tuple[JSON, float]]], None]) -> None:
        self.inner, self.seen = ml, seen
        self.task, self.version = ml.task, ml.version

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        out = list(self.inner.answer(items))
        self.seen(out)
        return out

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        return self.inner.fan_out(items)

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        return self.inner.fan_in(items)


class SeenStrategy:
    """The round's strategy, reporting each choice (and the scores behind it) to the overseer."""

    def __init__(
        self, inner: Strategy, seen: Callable[[Choice, list[float | None], list[float] | None], None]
    ) -> None:
        self.inner, self.seen, self.name = inner, seen, inner.name

    def choose(
        self, k: int, logps: Sequence[float | None], scores: Sequence[float | None], rng: np.random.Generator
    ) -> Choice:
        choice = self.inner.choose(k, logps, scores, rng)
        values = list(logps) if self.name == "uncertainty" else list(scores)
        self.seen(choice, values, recursion_chances(self.inner, values))
        return choice
