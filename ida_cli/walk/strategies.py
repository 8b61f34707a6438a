"""The selection rules (docs/spec.md §2, §2.1): which questions a round amplifies (`gumbel_top_k`),
the recursion strategies and the α schedule (`anneal`), as pure functions over score arrays.

Each takes the scores of ML's answers to the one or two subquestions of a step and an explicit
`numpy.random.Generator`, and returns which subquestions the overseer recurses on plus the Gumbel
draws behind the decision, so that every draw can be stored on its node. The strategy objects at the
end wrap them behind one `choose` for the walker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

NEEDS_SCORES = {"adversary": "adversary", "bernoulli": "adversary", "uncertainty": "model"}
# what a strategy reads besides its draws: "model" = ML's answers (and log p), "adversary" = their S
NEEDS = {**NEEDS_SCORES, "random": "model", "none": "model", "full": ""}


@dataclass(frozen=True)
class Choice:
    recurse: tuple[bool, ...]
    gumbel: tuple[float | None, ...]  # G_i per subquestion (None where no draw was made)
    threshold: tuple[float | None, ...]  # G'_i per subquestion for the Bernoulli rules

    @property
    def indices(self) -> list[int]:
        return [i for i, r in enumerate(self.recurse) if r]


def _none(k: int) -> tuple[None, ...]:
    return (None,) * k


def choose_full(k: int) -> Choice:
    return Choice((True,) * k, _none(k), _none(k))


def choose_none(k: int) -> Choice:
    return Choice((False,) * k, _none(k), _none(k))


def choose_adversary(scores: np.ndarray, temperature: float, rng: np.random.Generator) -> Choice:
    """Gumbel-max: recurse on argmin_i (S_i + τ·G_i), as docs/spec.md §2.1 writes it.

    With two subquestions G_1 − G_2 is logistic and symmetric, so this is exactly the Boltzmann
    choice P(i) = softmax(−S/τ)_i (a step never asks more than two)."""
    scores = np.asarray(scores, dtype=float)
    k = len(scores)
    if k == 1:
        return Choice((True,), (None,), (None,))
    g = rng.gumbel(size=k)
    pick = int(np.argmin(scores + temperature * g))
    return Choice(tuple(i == pick for i in range(k)), tuple(float(x) for x in g), _none(k))


def choose_bernoulli(
    scores: np.ndarray, alpha: float, temperature: float, rng: np.random.Generator
) -> Choice:
    """Each subquestion independently: recurse iff S_i + τ·G_i < α + τ·G'_i, i.e. with probability
    sigmoid((α − S_i)/τ) (the difference of two Gumbels is logistic)."""
    scores = np.asarray(scores, dtype=float)
    k = len(scores)
    g = rng.gumbel(size=k)
    g2 = rng.gumbel(size=k)
    recurse = scores + temperature * g < alpha + temperature * g2
    return Choice(tuple(bool(r) for r in recurse), tuple(float(x) for x in g), tuple(float(x) for x in g2))


def choose_random(k: int, p: float, rng: np.random.Generator) -> Choice:
    u = rng.random(size=k)
    return Choice(tuple(bool(x < p) for x in u), _none(k), _none(k))


def gumbel_top_k(
    scores: Sequence[float] | np.ndarray, k: int, temperature: float, rng: np.random.Generator
) -> list[int]:
    """The k indices with the largest −S_i/τ + G_i (G_i standard Gumbel), best first: k draws
    without replacement with P ∝ softmax(−S/τ) at each draw (the Gumbel-top-k trick). Low S (ML
    predicted to fail) is picked first. k is capped at len(scores); one Gumbel per score is drawn
    from `rng`, so the pick reproduces from the generator's seed."""
    if k < 0:
        raise ValueError("k must be at least 0")
    if temperature <= 0:
        raise ValueError("temperature must be greater than 0")
    s = np.asarray(scores, dtype=float).reshape(-1)
    if len(s) == 0:
        return []
    keys = -s / temperature + rng.gumbel(size=len(s))
    order = np.argsort(-keys, kind="stable")[: min(k, len(s))]
    return [int(i) for i in order]


def anneal(alpha: float, alpha_end: float | None, progress: float) -> float:
    """Linear α schedule from `alpha` to `alpha_end` as progress goes 0 → 1."""
    if alpha_end is None:
        return alpha
    progress = min(max(progress, 0.0), 1.0)
    return alpha + (alpha_end - alpha) * progress


# -- strategy objects: one step's 1-2 subquestions → Choice ------------------------------------
Scores = Sequence[float | None]


class Strategy(Protocol):
    name: str

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        """`logps`: ML's log p of its answers ([] without ML); `scores`: the adversary's S (None
        where there is no adversary)."""
        ...


def recursion_chances(strategy: Strategy, values: Scores) -> list[float] | None:
    """The probability each subquestion had of being recursed on, given the values the strategy
    read (the adversary's S, or ML's log p for uncertainty); None where it cannot be said."""
    k = len(values)
    name = strategy.name
    if name in ("full", "none"):
        return [1.0 if name == "full" else 0.0] * k
    if name == "random":
        return [float(getattr(strategy, "p", 0.0))] * k
    if k == 0 or any(v is None for v in values):
        return None
    s = np.asarray(values, dtype=float)
    tau = float(getattr(strategy, "temperature", 1.0))
    if name == "adversary":
        if k == 1:
            return [1.0]
        z = np.exp(-(s - s.min()) / tau)  # the Gumbel-max choice is softmax(−S/τ)
        return [float(x) for x in z / z.sum()]
    if name in ("bernoulli", "uncertainty"):
        alpha = float(getattr(strategy, "alpha", 0.0))
        return [float(x) for x in 1.0 / (1.0 + np.exp(-(alpha - s) / tau))]
    return None


def _known(values: Scores, what: str) -> np.ndarray:
    if len(values) == 0 or any(v is None for v in values):
        raise ValueError(f"this strategy needs {what} for every subquestion")
    return np.asarray(values, dtype=float)


class FullStrategy:
    """Pure HCH: the overseer recurses on every subquestion."""

    name = "full"

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        return choose_full(k)


class NoneStrategy:
    """One level (Christiano et al. 2018): ML answers every subquestion."""

    name = "none"

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        return choose_none(k)


@dataclass(frozen=True)
class RandomStrategy:
    p: float
    name = "random"

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        return choose_random(k, self.p, rng)


@dataclass(frozen=True)
class AdversaryStrategy:
    temperature: float = 1.0
    name = "adversary"

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        return choose_adversary(_known(scores, "the adversary's scores"), self.temperature, rng)


@dataclass(frozen=True)
class BernoulliStrategy:
    alpha: float
    temperature: float = 1.0
    name = "bernoulli"

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        s = _known(scores, "the adversary's scores")
        return choose_bernoulli(s, self.alpha, self.temperature, rng)


@dataclass(frozen=True)
class UncertaintyStrategy:
    """`bernoulli` with S_i = log p_ML(a_i | SQ_i): uncertainty sampling, the baseline."""

    alpha: float
    temperature: float = 1.0
    name = "uncertainty"

    def choose(self, k: int, logps: Scores, scores: Scores, rng: np.random.Generator) -> Choice:
        return choose_bernoulli(_known(logps, "ML's log p"), self.alpha, self.temperature, rng)
