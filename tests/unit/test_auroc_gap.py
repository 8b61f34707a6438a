"""The adversary against ML's confidence: a weighted AUROC sorted once, and a paired bootstrap of
their difference over contexts (adversary.metrics)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from adversary.metrics import auroc_gap, weighted_auroc
from ida_cli.learn.evaluate import adversary_nodes
from ida_cli.store import questions
from ida_cli.tasks import get_task
from tests.helpers import Run


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-3, 3), st.booleans(), st.integers(0, 3)), min_size=2, max_size=40).filter(
        lambda r: any(b and w for _, b, w in r) and any(not b and w for _, b, w in r)
    )
)
def test_weighted_auroc_matches_sklearn_with_ties(rows: list[tuple[int, bool, int]]) -> None:
    s, y, w = (np.array(c) for c in zip(*rows, strict=True))
    expected = roc_auc_score(y, -s, sample_weight=w)  # coarse scores: many ties
    assert abs(weighted_auroc(s, y, w[None, :])[0] - expected) < 1e-12


def test_one_scorer_against_itself_has_a_zero_gap() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.3
    s = -(y + rng.normal(0, 1, 500))
    assert auroc_gap(s, s, y, rng.integers(0, 20, 500), np.random.default_rng(1), 200) == (0.0, 0.0, 0.0)
    assert auroc_gap(s, s, np.zeros(500, bool), np.zeros(500), np.random.default_rng(1)) is None


def test_the_interval_resamples_contexts_not_nodes() -> None:
    # every context has its own offset on one scorer: the gap differs from context to context,
    # so 20 contexts of 200 nodes are far less sure than 4,000 independent nodes
    rng = np.random.default_rng(0)
    n, k = 4000, 20
    g = np.repeat(np.arange(k), n // k)
    y = rng.random(n) < 0.3
    base = -(y + rng.normal(0, 1, n))
    noisy = -(y * rng.normal(1.2, 0.8, k)[g] + rng.normal(0, 1, n))
    gap, lo, hi = auroc_gap(noisy, base, y, g, np.random.default_rng(2), 400)
    _, lo_n, hi_n = auroc_gap(noisy, base, y, np.arange(n), np.random.default_rng(2), 400)
    assert lo <= gap <= hi and lo_n <= gap <= hi_n
    assert hi - lo > 2 * (hi_n - lo_n)


def test_a_better_scorer_has_an_interval_above_zero() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    g = rng.integers(0, 100, n)
    y = rng.random(n) < 0.25
    good, bad = -(2 * y + rng.normal(0, 1, n)), -(y + rng.normal(0, 1, n))
    gap, lo, hi = auroc_gap(good, bad, y, g, np.random.default_rng(4), 300)
    assert 0 < lo <= gap <= hi
    again = auroc_gap(good, bad, y, g, np.random.default_rng(4), 300)
    assert again == (gap, lo, hi)  # the generator, and nothing else, decides the interval


def test_evals_adversary_nodes_take_one_question_per_context_in_turn(ida: Run, db: Path) -> None:
    ida(
        "questions",
        "generate",
        "--task",
        "shortpath",
        "--size",
        "8",
        "--count",
        "64",
        "--seed",
        "1",
        "--split",
        "eval",
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = questions.labelled(con, "shortpath", "eval")
    nodes, groups = adversary_nodes(get_task("shortpath"), rows, 40)
    assert len(nodes) == len(groups) == 40
    # 8 contexts of 8 questions, 5–10 nodes a tree: in question order the first 40 nodes would come
    # from one or two contexts; one question per context in turn spreads them over five or more
    assert len(set(groups)) >= 5
    assert groups == sorted(groups)  # still in the first pass: each context's first question
