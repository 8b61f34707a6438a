"""Recursion strategies (SPEC 2.1) as pure functions over score arrays.

Each takes the scores of ML's answers to the one or two subquestions of a step and an explicit
`numpy.random.Generator`, and returns which subquestions the overseer recurses on plus the Gumbel
draws behind the decision, so that every draw can be stored on its node."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRATEGIES = ("adversary", "bernoulli", "uncertainty", "random", "full", "none")
NEEDS_SCORES = {"adversary": "adversary", "bernoulli": "adversary", "uncertainty": "model"}


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
    """Gumbel-max: recurse on argmin_i (S_i + τ·G_i), as SPEC 2.1 writes it.

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


def anneal(alpha: float, alpha_end: float | None, progress: float) -> float:
    """Linear α schedule from `alpha` to `alpha_end` as progress goes 0 → 1."""
    if alpha_end is None:
        return alpha
    progress = min(max(progress, 0.0), 1.0)
    return alpha + (alpha_end - alpha) * progress
