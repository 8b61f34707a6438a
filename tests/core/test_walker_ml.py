"""The batched walker with a (fake) ML and adversary: one batched call per kind per driver round,
trees independent of how they were interleaved, every strategy's rule reproducible from the stored
draws, and the distillation walk (docs/spec.md §2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from ida_cli.errors import Interrupted, UsageError
from ida_cli.learn.distill import distill
from ida_cli.rounds.options import RoundOptions, check_options, make_strategy
from ida_cli.rounds.run import run_round
from ida_cli.store import Store
from ida_cli.tasks import get_task
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN
from ida_cli.walk.overseer import ModelOverseer, ScriptedOverseer
from ida_cli.walk.walker import Walker
from tests.helpers import FakeML, FakeScorer, GarbageML, Run, items_for, signature


def walker(
    task: Task, strategy: str, ml: FakeML | None, scorer: FakeScorer | None = None, **kw: Any
) -> Walker:
    alpha = {"uncertainty": -0.4, "bernoulli": -0.6}.get(strategy)
    p = 0.4 if strategy == "random" else None
    return Walker(
        task, ScriptedOverseer(task), make_strategy(strategy, alpha, 0.5, p), 3, ml=ml, scorer=scorer, **kw
    )


STRATEGY_NAMES = ["full", "none", "random", "uncertainty", "adversary", "bernoulli"]


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
@pytest.mark.parametrize("ids", [True, False])
def test_serial_and_concurrent_walks_give_identical_trees(strategy: str, ids: bool) -> None:
    task = get_task("permutation")
    items = items_for(task, 24, ids=ids)
    runs = []
    for concurrency in (0, 1, 5, 64):  # 0: one walk() call per item
        w = walker(task, strategy, FakeML(task), FakeScorer(task))
        if concurrency:
            trees = list(w.walk_many(items, concurrency))
        else:
            trees = [w.walk(c, q, i) for c, q, i in items]
        runs.append([signature(t) for t in trees])
    assert all(run == runs[0] for run in runs[1:])
    if ids:  # seeded by question id: the order of the input does not matter either
        w = walker(task, strategy, FakeML(task), FakeScorer(task))
        backwards = [signature(t) for t in w.walk_many(items[::-1], 8)]
        assert backwards[::-1] == runs[0]


def test_ml_calls_are_batched_over_the_frontier() -> None:
    task = get_task("permutation")
    items = items_for(task, 200)
    for strategy in ("none", "full", "bernoulli"):
        ml, scorer = FakeML(task), FakeScorer(task)
        w = walker(task, strategy, ml, scorer)
        frontier = w.walk_many(items, concurrency=64)
        trees = list(frontier)
        asked = sum(t.model_calls for t in trees)
        assert len(ml.calls) == w.batches["answer"] <= frontier.rounds
        assert scorer.calls == w.batches["score"] <= frontier.rounds
        assert sum(n for _, n in ml.calls) == asked == w.queries["answer"]
        assert max(n for _, n in ml.calls) >= 64  # the whole frontier in one call
        assert len(ml.calls) < asked / 20
    # strategy none asks ML once per overseer step: a handful of calls for 200 questions
    ml = FakeML(task)
    list(walker(task, "none", ml).walk_many(items))
    assert len(ml.calls) < 200 / 10


def test_none_never_recurses_and_ml_answers_every_subquestion() -> None:
    task = get_task("permutation")
    for tree in walker(task, "none", FakeML(task)).walk_many(items_for(task, 30)):
        root, children = tree.root, tree.nodes()[1:]
        assert root.by == "scripted" and tree.depth == 1 and children
        assert all(not c.recursed and c.by == "model" and c.answer == c.ml_answer for c in children)
        assert all(c.ml_logp is not None and c.gumbel is None for c in children)
        assert tree.model_calls == len(children)
        assert tree.overseer_calls == len(tree.actions) == 1 + len({c.step for c in children})


def test_full_with_ml_records_its_answers_and_still_reaches_the_truth() -> None:
    task = get_task("permutation")
    wrong = 0
    for tree in walker(task, "full", FakeML(task)).walk_many(items_for(task, 30)):
        assert tree.root.correct
        children = tree.nodes()[1:]
        assert all(c.recursed and c.by == "scripted" and c.correct for c in children)
        assert all(c.ml_answer is not None and c.ml_logp is not None for c in children)
        assert tree.model_calls == len(children)
        wrong += sum(c.ml_answer != c.truth for c in children)
    assert wrong > 0  # ML's mistakes are on record: the adversary's training data


@pytest.mark.parametrize("strategy", ["uncertainty", "bernoulli"])
def test_bernoulli_rules_reproduce_from_the_stored_draws(strategy: str) -> None:
    task, tau = get_task("permutation"), 0.5
    w = walker(task, strategy, FakeML(task), FakeScorer(task))
    alpha = w.strategy.alpha  # type: ignore[attr-defined]
    decided = []
    for tree in w.walk_many(items_for(task, 40)):
        for c in tree.nodes()[1:]:
            s = c.ml_logp if strategy == "uncertainty" else c.score
            assert s is not None and c.gumbel is not None and c.gumbel_threshold is not None
            assert c.recursed == (s + tau * c.gumbel < alpha + tau * c.gumbel_threshold)
            assert c.by == ("scripted" if c.recursed else "model")
            decided.append(c.recursed)
    assert 0 < sum(decided) < len(decided)


def test_adversary_recurses_on_the_gumbel_argmin_and_random_at_its_rate() -> None:
    task = get_task("permutation")
    w = walker(task, "adversary", FakeML(task), FakeScorer(task))
    for tree in w.walk_many(items_for(task, 30)):
        for node in tree.nodes():
            for step in {c.step for c in node.children}:
                kids = [c for c in node.children if c.step == step]
                if len(kids) == 1:
                    assert kids[0].recursed and kids[0].gumbel is None
                else:
                    totals = [c.score + 0.5 * c.gumbel for c in kids]  # type: ignore[operator]
                    assert [c.recursed for c in kids] == [t == min(totals) for t in totals]
    w = walker(task, "random", FakeML(task))
    flags = [c.recursed for t in w.walk_many(items_for(task, 60)) for c in t.nodes()[1:]]
    assert 0.25 < np.mean(flags) < 0.55  # p = 0.4


def test_distillation_walk_with_a_perfect_model_reaches_the_truth() -> None:
    for name in ("permutation", "assignments"):
        task = get_task(name)
        ml = FakeML(task, p_right=1.0)
        items = items_for(task, 24)
        trees = distill(task, items, ml, seed=1, max_depth=60)
        assert len(trees) == 24 and all(t.source == "distill" for t in trees)
        for tree in trees:
            assert tree.root.correct and tree.overseer_calls == 0 and tree.primitive_calls == 0
            assert tree.model_calls > 0 and all(a.actor == "model" for a in tree.actions)
            assert all(n.by == "model" for n in tree.nodes())
        assert {kind for kind, _ in ml.calls} == {"answer", "fan_out", "fan_in"}
        assert len(ml.calls) < sum(t.model_calls for t in trees) / 3  # 24 trees, three kinds


def test_distillation_survives_a_garbage_model_and_guards_its_size() -> None:
    task = get_task("permutation")
    items = items_for(task, 24)
    trees = distill(task, items, GarbageML(task, p_right=0.5), max_depth=4, max_nodes=30)
    assert any(t.root.answer == UNKNOWN for t in trees)
    assert all(t.overseer_calls == 0 and t.depth <= 5 for t in trees)
    # past max_nodes nothing recurses: at most a step's children beyond the limit
    assert all(sum(n.recursed for n in t.nodes()) <= 30 for t in trees)
    trees = distill(task, items, FakeML(task, garble=0.02), max_depth=60)
    assert any(t.root.answer == UNKNOWN for t in trees) and any(t.root.correct for t in trees)


def test_strategies_refuse_to_run_without_their_inputs() -> None:
    task = get_task("permutation")
    for name in ("none", "random", "uncertainty"):
        with pytest.raises(
            UsageError, match=f"--strategy {name} needs a trained model: run `ida train model`"
        ):
            walker(task, name, None)
        walker(task, name, FakeML(task))
    for name in ("adversary", "bernoulli"):
        with pytest.raises(UsageError, match="run `ida train model`, then `ida train adversary`"):
            walker(task, name, None)
        with pytest.raises(
            UsageError, match=f"--strategy {name} needs a trained adversary: run `ida train adversary`"
        ):
            walker(task, name, FakeML(task))
        walker(task, name, FakeML(task), FakeScorer(task))
    with pytest.raises(UsageError, match="a model overseer needs a trained model"):
        Walker(task, ModelOverseer(task), make_strategy("full"))
    with pytest.raises(UsageError, match="needs a trained model"):
        check_options(RoundOptions(strategy="none"))
    check_options(RoundOptions(strategy="none"), ml=FakeML(task))
    with pytest.raises(UsageError, match="`ida train adversary`"):
        check_options(RoundOptions(strategy="bernoulli", alpha=-1), ml=FakeML(task))
    with pytest.raises(UsageError, match="--p applies to --strategy random only"):
        check_options(RoundOptions(strategy="none", p=0.3), ml=FakeML(task))
    assert RoundOptions(strategy="random").params()["p"] == 0.5


def one(db: Path, sql: str) -> tuple[Any, ...]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return row


def test_round_with_a_model(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "16", "--count", "260", "--seed", "4")
    task = get_task("permutation")
    ml = FakeML(task)
    opts = RoundOptions(strategy="random", questions=200, seed=1)
    result = run_round(Store(db), opts, ml=ml)
    assert (result.trees, result.status, len(result.tree_ids)) == (200, "done", 200)
    assert result.ml_batches == len(ml.calls) and result.model_calls == sum(n for _, n in ml.calls)
    assert result.ml_batches / result.trees < 0.5
    by_model, no_ml = one(
        db,
        "SELECT count(*) FILTER (WHERE actor = 'model'), count(*) FILTER (WHERE ml_logp IS NULL "
        "AND parent_id IS NOT NULL) FROM nodes",
    )
    (params,) = one(db, "SELECT params FROM rounds")
    assert by_model > 0 and no_ml == 0 and '"p":0.5' in params.replace(" ", "")

    class Interrupting(FakeML):
        def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
            if len(self.calls) == 2:  # two rounds in: the shortest trees are done, the rest not
                raise KeyboardInterrupt
            return super().answer(items)

    with pytest.raises(Interrupted, match=r"round 2 kept its \d+ finished trees; the \d+ unfinished were"):
        run_round(Store(db), RoundOptions(strategy="none", questions=60), ml=Interrupting(task))
    kept, status = one(
        db,
        "SELECT count(*), any_value(r.status) FROM trees t JOIN rounds r ON r.id = t.round_id WHERE r.id = 2",
    )
    (bad,) = one(
        db,
        "SELECT count(*) FROM trees t WHERE t.nodes <> (SELECT count(*) FROM nodes n WHERE n.tree_id = t.id)",
    )
    assert 0 < kept < 60 and status == "interrupted" and bad == 0
