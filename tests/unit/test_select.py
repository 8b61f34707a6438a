"""Selection functions (docs/spec.md §2, 2.1): invariants and seeded frequency checks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ida_cli.walk.strategies import (
    anneal,
    choose_adversary,
    choose_bernoulli,
    choose_full,
    choose_none,
    choose_random,
    gumbel_top_k,
)

scores = st.lists(st.floats(-50, 0, allow_nan=False), min_size=1, max_size=2)


@given(s=scores, tau=st.floats(0.01, 10), seed=st.integers(0, 2**32 - 1))
def test_gumbel_choice_is_always_one_valid_index(s: list[float], tau: float, seed: int) -> None:
    c = choose_adversary(np.array(s), tau, np.random.default_rng(seed))
    assert len(c.recurse) == len(s) and sum(c.recurse) == 1
    assert 0 <= c.indices[0] < len(s)


@given(s=scores, alpha=st.floats(-20, 0), tau=st.floats(0.01, 10), seed=st.integers(0, 2**32 - 1))
def test_bernoulli_recurses_on_zero_one_or_two(s: list[float], alpha: float, tau: float, seed: int) -> None:
    c = choose_bernoulli(np.array(s), alpha, tau, np.random.default_rng(seed))
    assert len(c.recurse) == len(s) and all(g is not None for g in c.gumbel + c.threshold)
    # the stored draws reproduce the decision (docs/spec.md §2.1's rule)
    for i, r in enumerate(c.recurse):
        assert r == (s[i] + tau * c.gumbel[i] < alpha + tau * c.threshold[i])  # type: ignore[operator]


def test_adversary_frequencies_match_softmax() -> None:
    rng = np.random.default_rng(7)
    s, tau, n = np.array([-2.0, -0.5]), 0.8, 40_000
    picks = np.array([choose_adversary(s, tau, rng).indices[0] for _ in range(n)])
    expected = np.exp(-s / tau) / np.exp(-s / tau).sum()
    observed = np.bincount(picks, minlength=2) / n
    assert np.all(np.abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n))


def test_bernoulli_frequencies_match_sigmoid() -> None:
    rng = np.random.default_rng(11)
    s, alpha, tau, n = np.array([-3.0, 0.0]), -1.0, 0.7, 40_000
    hits = np.array([choose_bernoulli(s, alpha, tau, rng).recurse for _ in range(n)]).mean(axis=0)
    expected = 1 / (1 + np.exp(-(alpha - s) / tau))
    assert np.all(np.abs(hits - expected) < 4 * np.sqrt(expected * (1 - expected) / n))


def test_fixed_rules_and_random_rate() -> None:
    assert choose_full(2).recurse == (True, True)
    assert choose_none(2).recurse == (False, False)
    rng = np.random.default_rng(3)
    rate = np.mean([choose_random(2, 0.3, rng).recurse for _ in range(20_000)])
    assert abs(rate - 0.3) < 0.01
    assert anneal(-1.0, -3.0, 0.5) == -2.0 and anneal(-1.0, None, 0.9) == -1.0


@given(
    s=st.lists(st.floats(-50, 0, allow_nan=False), min_size=0, max_size=30),
    k=st.integers(0, 35),
    tau=st.floats(0.01, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_gumbel_top_k_gives_k_distinct_valid_indices(s: list[float], k: int, tau: float, seed: int) -> None:
    picked = gumbel_top_k(s, k, tau, np.random.default_rng(seed))
    assert len(picked) == min(k, len(s)) and len(set(picked)) == len(picked)
    assert all(isinstance(i, int) and 0 <= i < len(s) for i in picked)
    # the same generator state gives the same pick
    assert gumbel_top_k(s, k, tau, np.random.default_rng(seed)) == picked


def _within(observed: np.ndarray, expected: np.ndarray, n: int) -> bool:
    return bool(np.all(np.abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-9))


def test_gumbel_top_k_samples_softmax_without_replacement() -> None:
    rng = np.random.default_rng(5)
    s, tau, n = np.array([-1.5, -0.2, -0.8]), 0.6, 30_000
    p = np.exp(-s / tau) / np.exp(-s / tau).sum()
    firsts = np.array([gumbel_top_k(s, 1, tau, rng)[0] for _ in range(n)])
    assert _within(np.bincount(firsts, minlength=3) / n, p, n)
    # k = 2: ordered pairs (i, j) with P = p_i · p_j / (1 − p_i), the sequential draw
    pairs = [tuple(gumbel_top_k(s, 2, tau, rng)) for _ in range(n)]
    keys = [(i, j) for i in range(3) for j in range(3) if i != j]
    observed = np.array([pairs.count(key) for key in keys]) / n
    expected = np.array([p[i] * p[j] / (1 - p[i]) for i, j in keys])
    assert abs(expected.sum() - 1) < 1e-12 and _within(observed, expected, n)
    # lower S is picked first far more often (the adversary's "ML will fail here")
    assert np.argmax(np.bincount(firsts, minlength=3)) == 0
