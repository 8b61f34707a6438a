"""`--prime-error E`: α' chosen after every adversary fit, on held-out nodes, so that the steps H'
takes have a measured error rate of at most E (docs/spec.md §2.3); by ML's log p for the
uncertainty baseline; refused where it cannot apply, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.errors import UsageError
from ida_cli.experiment import priming
from ida_cli.experiment.options import ExperimentOptions
from tests.core.test_online import TINY
from tests.helpers import Run


def evidence_needed(max_error: float) -> int:
    """Right steps, none wrong, before the bound lets H' take any at `max_error`."""
    bound = priming.upper_bound
    return next(n for n in range(1, 100_000) if bound(np.zeros(1), np.array([n]))[0] <= max_error)


def test_the_threshold_takes_the_most_steps_whose_bound_is_within_the_error() -> None:
    # 40 right steps, then 10 more with 1 wrong, then 10 all wrong, best scores first
    scores = np.array([-0.01] * 40 + [-0.2] * 10 + [-0.7] * 10)
    wrong = np.array([False] * 40 + [True] + [False] * 9 + [True] * 10)
    bounds = priming.upper_bound(np.array([0, 1, 11]), np.array([40, 50, 60]))
    assert bounds[0] < 0.07 < bounds[1] and bounds[1] < 0.1 < bounds[2]
    assert priming.threshold(scores, wrong, 0.07) == pytest.approx((-0.01 + -0.2) / 2)
    assert priming.threshold(scores, wrong, 0.1) == pytest.approx((-0.2 + -0.7) / 2)
    assert priming.threshold(scores, wrong, 0.05) == priming.NEVER  # 40 right steps prove too little
    assert priming.threshold(scores, wrong, 0.5) == pytest.approx(-0.7 - 0.5)  # every step
    assert priming.threshold(np.array([]), np.array([], dtype=bool), 0.5) == priming.NEVER
    # the evidence a bound of 5% needs before H' takes a single step
    assert evidence_needed(0.05) == 52 and evidence_needed(0.1) == 25  # the figures docs/spec.md gives


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=1, max_size=80),
    st.floats(0.01, 0.99),
)
def test_the_steps_above_the_threshold_are_within_the_error(rows: list[tuple[int, bool]], e: float) -> None:
    scores = np.array([-s / 20 for s, _ in rows])
    wrong = np.array([w for _, w in rows])
    alpha = priming.threshold(scores, wrong, e)
    taken = scores > alpha
    if taken.any():
        assert priming.upper_bound(wrong[taken].sum(), taken.sum()) <= e + 1e-12
    # no lower threshold at a score boundary would also be within the error
    for s in np.unique(scores[~taken]):
        more = scores >= s
        assert priming.upper_bound(wrong[more].sum(), more.sum()) > e


def test_the_uncertainty_baseline_chooses_by_mls_log_p() -> None:
    n = 200
    held = {
        "kind": np.array(["fan_out"] * n + ["answer"] * 10),
        "wrong": np.array([i % 2 == 0 for i in range(n)] + [True] * 10),
        "p": np.linspace(0.0, 0.5, n + 10),
        "logp": np.array([-1.0 if i % 2 == 0 else -0.01 for i in range(n)] + [0.0] * 10),
    }
    # by log p the right half stands apart; by the adversary's p (unrelated to the errors) nothing does
    assert priming.choose(held, "uncertainty", 0.05) == pytest.approx((-0.01 + -1.0) / 2)
    assert priming.choose(held, "adversary", 0.05) == priming.NEVER
    answers_only = {**held, "kind": np.array(["answer"] * (n + 10))}
    assert priming.choose(answers_only, "adversary", 0.5) == priming.NEVER


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"prime_error": 0.0}, "--prime-error must be an error rate in (0, 1), e.g. 0.05, not 0.0"),
        ({"prime_error": 1.0}, "--prime-error must be an error rate in (0, 1), e.g. 0.05, not 1.0"),
        (
            {"prime_error": 0.05, "strategy": "random"},
            "--prime-error chooses the α' of a primed strategy (adversary, bernoulli, uncertainty), "
            "not random",
        ),
        (
            {"prime_error": 0.05, "confidence": -0.1},
            "--prime-error chooses α' each cycle: leave out --confidence",
        ),
        ({"prime_error": 0.05, "prime": False}, "--prime-error chooses α' each cycle: leave out --no-prime"),
        (
            {"prime_error": 0.05, "schedule": "cycles"},
            "--prime-error follows the online schedule's adversary: leave out --schedule cycles",
        ),
    ],
)
def test_bad_prime_errors_are_refused(flags: dict[str, object], message: str) -> None:
    given_flags = {"task": "wildcard", "size": 8, "strategy": "adversary", "budget": 500, "seed": 1, **flags}
    with pytest.raises(UsageError) as e:
        ExperimentOptions(**given_flags).check()  # type: ignore[arg-type]
    assert str(e.value) == message


def test_each_round_after_a_fit_uses_the_chosen_threshold(
    ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen: list[float] = []
    threshold = priming.threshold

    def spy(scores: np.ndarray, wrong: np.ndarray, e: float) -> float:
        chosen.append(threshold(scores, wrong, e))
        return chosen[-1]

    monkeypatch.setattr(priming, "threshold", spy)
    r = ida("experiment", *TINY, "--prime-error", "0.2", "--json")
    assert r.code == 0, r.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        params = [json.loads(p) for (p,) in con.execute("SELECT params FROM rounds ORDER BY id").fetchall()]
    # round 1 is the bootstrap (no model); every later round primes at the α' of the fit before it
    assert len(chosen) == 3 and len(params) == 3
    assert [p["confidence"] for p in params[1:]] == chosen[:2]
