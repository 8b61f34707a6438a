"""The primed overseer H' (docs/spec.md §2.3), `--pick adversary` (docs/spec.md §2) and the α
schedule, with the fake ML and adversary of test_walker_ml: ML's steps stand in where the
adversary is confident and are never overseer calls, every H' decision reproduces from the draws
stored on its action, a round picks the questions the adversary expects ML to fail on, and an
annealed α is a function of the tree's position alone."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from ida_cli.errors import UsageError
from ida_cli.rounds.options import RoundOptions, check_options, make_strategy
from ida_cli.rounds.run import run_round
from ida_cli.store import Store
from ida_cli.tasks import get_task
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, Ask, Step, Tree, canonical
from ida_cli.walk.overseer import ScriptedOverseer, primed_take
from ida_cli.walk.strategies import anneal
from ida_cli.walk.walker import Walker
from tests.helpers import FakeML, FakeScorer, GarbageML, Run, _u, items_for, signature


class StepScorer(FakeScorer):
    """FakeScorer that also scores ML's steps: S = `step_score(mode, context, question, step)`."""

    def __init__(self, task: Task, step_score: float | Callable[..., float] = 0.0) -> None:
        super().__init__(task)
        self.step_score = step_score
        self.step_calls: list[tuple[str, int]] = []

    def score_steps(self, mode: str, items: Sequence[tuple[JSON, JSON, Any, Any]]) -> list[float]:
        self.step_calls.append((mode, len(items)))
        f = self.step_score
        return [float(f(mode, c, q, y)) if callable(f) else float(f) for c, q, _t, y in items]


def uneven(mode: str, context: JSON, question: JSON, y: Step) -> float:
    return -_u(mode, context, question, repr(y))  # uniform in [−1, 0], fixed per proposal


def primed(
    task: Task, ml: FakeML, scorer: StepScorer, confidence: float | None, tau: float, **kw: Any
) -> Walker:
    return Walker(
        task,
        ScriptedOverseer(task),
        make_strategy("full"),
        3,
        ml=ml,
        scorer=scorer,
        confidence=confidence,
        temperature=tau,
        **kw,
    )


def noted(tree: Tree) -> list[tuple[str, dict[str, Any]]]:
    return [(a.actor, a.note) for a in tree.actions if a.note is not None]


def full_signature(tree: Tree) -> list[Any]:
    return [*signature(tree), [(a.actor, a.note) for a in tree.actions], [n.by for n in tree.nodes()]]


def test_confident_adversary_hands_most_steps_to_ml() -> None:
    task = get_task("permutation")
    items = items_for(task, 60)
    base = list(primed(task, FakeML(task), StepScorer(task), None, 0.05).walk_many(items))
    ml, scorer = FakeML(task), StepScorer(task, 0.0)
    w = primed(task, ml, scorer, -0.5, 0.05)
    trees = list(w.walk_many(items))
    calls = sum(t.overseer_calls for t in trees)
    base_calls = sum(t.overseer_calls for t in base)
    assert base_calls > 500 and calls < 0.02 * base_calls
    assert sum(t.model_calls for t in trees) > sum(t.model_calls for t in base) + 0.9 * base_calls
    assert all(t.root.correct for t in trees)  # the fake imitates the expert exactly
    steps = 0
    for tree in trees:
        acts = [a for a in tree.actions if a.actor == "model"]
        steps += len(acts)
        assert tree.overseer_calls == len(tree.actions) - len(acts)
        for a in acts:
            assert a.note is not None and a.note["primed"] is True
            assert set(a.note) == {"primed", "score", "gumbel", "threshold"} and a.note["score"] == 0.0
        # a node's `by` is whoever gave its final answer
        last: dict[int, str] = {}
        for a in tree.actions:
            last[id(a.node)] = a.actor
        assert all(n.by == last[id(n)] for n in tree.nodes() if n.recursed)
        assert tree.root.by == "model"
    assert steps > 0.95 * base_calls
    # ML's steps and their scores are batched over the frontier like ML's answers
    scored = sum(n for _, n in scorer.step_calls)
    assert scored == sum(len(noted(t)) for t in trees) and len(scorer.step_calls) < scored / 8
    assert {m for m, _ in scorer.step_calls} == {"fan_out", "fan_in"}
    assert max(n for _, n in scorer.step_calls) == len(items)  # the whole frontier in one call
    assert w.batches["score_fan_out"] == sum(m == "fan_out" for m, _ in scorer.step_calls)


def test_unconfident_adversary_leaves_the_steps_to_the_overseer() -> None:
    task = get_task("permutation")
    items = items_for(task, 40)
    base = list(primed(task, FakeML(task), StepScorer(task), None, 0.05).walk_many(items))
    trees = list(primed(task, FakeML(task), StepScorer(task, -1.0), -0.5, 0.05).walk_many(items))
    base_calls = sum(t.overseer_calls for t in base)
    assert sum(t.overseer_calls for t in trees) >= 0.995 * base_calls
    refused = [note for t in trees for actor, note in noted(t) if actor == "scripted"]
    assert len(refused) >= 0.995 * base_calls
    assert all(n["primed"] is False and n["score"] == -1.0 and "ml" in n for n in refused)
    # without --confidence nothing is noted; here ML proposes the expert's own steps, so the trees
    # are the same whoever took each step
    assert all(not noted(t) for t in base)
    strip = [{**t.to_json(), "root": None} for t in trees]
    assert strip == [{**t.to_json(), "root": None} for t in base]
    assert [t.root.answer for t in trees] == [t.root.answer for t in base]


@pytest.mark.parametrize("tau", [0.3, 1.0])
def test_primed_decisions_reproduce_from_the_stored_draws(tau: float) -> None:
    task, alpha = get_task("permutation"), -0.5
    items = items_for(task, 30)
    runs = []
    for concurrency in (1, 7, 64):
        w = primed(task, FakeML(task, garble=0.1), StepScorer(task, uneven), alpha, tau)
        runs.append([full_signature(t) for t in w.walk_many(items, concurrency)])
    assert all(run == runs[0] for run in runs[1:])  # independent of interleaving
    w = primed(task, FakeML(task, garble=0.1), StepScorer(task, uneven), alpha, tau)
    taken, invalid = [], 0
    for tree in w.walk_many(items):
        for actor, note in noted(tree):
            if note.get("invalid"):
                invalid += 1
                assert actor == "scripted" and note["primed"] is False and note["ml"] == {"answer": "?"}
                continue
            s, g, g2 = note["score"], note["gumbel"], note["threshold"]
            assert note["primed"] == (s + tau * g > alpha + tau * g2) == primed_take(s, g, g2, alpha, tau)
            assert actor == ("model" if note["primed"] else "scripted")
            taken.append(note["primed"])
    assert invalid > 0 and 0.2 < np.mean(taken) < 0.8  # S uniform in [−1, 0], α' = −0.5


def test_unusable_steps_fall_back_to_the_overseer() -> None:
    task = get_task("permutation")
    items = items_for(task, 24)
    trees = list(primed(task, GarbageML(task), StepScorer(task, 0.0), -0.5, 0.05).walk_many(items))
    notes = [(actor, n) for t in trees for actor, n in noted(t)]
    bad = [(actor, n) for actor, n in notes if n.get("invalid")]
    assert bad and all(actor == "scripted" and not n["primed"] for actor, n in bad)
    assert {json.dumps(n["ml"])[:8] for _, n in bad} >= {'{"ask": ', '{"answer'}
    assert all(t.root.correct for t in trees)  # every step it took was the expert's

    class LoopML(FakeML):
        """Below the root, asks the root's question back: a loop only the ancestor check stops."""

        def __init__(self, task: Task, roots: dict[str, JSON]) -> None:
            super().__init__(task)
            self.roots = roots

        def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
            out = super().fan_out(items)
            for i, (c, q) in enumerate(items):
                root = self.roots[canonical(c)]
                if canonical(q) != canonical(root):
                    out[i] = (Ask((root,)), -0.1)
            return out

    one_each = items_for(task, 48)[::8]  # one question per context
    roots = {canonical(c): q for c, q, _ in one_each}
    trees = list(primed(task, LoopML(task, roots), StepScorer(task, 0.0), -0.5, 0.05).walk_many(one_each))
    assert all(t.root.correct and t.depth < 30 for t in trees)
    loops = [n for t in trees for a, n in noted(t) if n.get("invalid") and "ask" in n["ml"]]
    assert loops and all(
        a.actor == "scripted"
        for t in trees
        for a in t.actions
        if a.kind == "fan_out" and a.node is not t.root
    )


def test_annealed_alpha_depends_on_the_tree_position_only() -> None:
    task, tau = get_task("permutation"), 0.5
    items = items_for(task, 40)
    opts = RoundOptions(strategy="bernoulli", alpha=0.2, alpha_end=-1.2, temperature=tau)
    at = opts.strategy_at(len(items))
    assert at is not None and RoundOptions(strategy="bernoulli").strategy_at(9) is None

    def walk(concurrency: int) -> list[Tree]:
        w = Walker(
            task,
            ScriptedOverseer(task),
            make_strategy("bernoulli", 0.2, tau),
            3,
            ml=FakeML(task),
            scorer=FakeScorer(task),
            strategy_at=at,
        )
        if concurrency:
            return list(w.walk_many(items, concurrency))
        return [w.walk(c, q, i) for c, q, i in items]

    serial = walk(0)
    assert all([signature(t) for t in walk(k)] == [signature(t) for t in serial] for k in (5, 64))
    rates = []
    for i, tree in enumerate(serial):
        alpha = anneal(0.2, -1.2, i / (len(items) - 1))
        assert at(i).alpha == pytest.approx(alpha)  # type: ignore[attr-defined]
        kids = tree.nodes()[1:]
        for c in kids:
            assert c.score is not None and c.gumbel is not None and c.gumbel_threshold is not None
            assert c.recursed == (c.score + tau * c.gumbel < alpha + tau * c.gumbel_threshold)
        rates.append(np.mean([c.recursed for c in kids]))
    assert np.mean(rates[:10]) > np.mean(rates[-10:]) + 0.3  # α falls: fewer recursions
    # a fixed α (the start) recurses as the first trees do, not as the last
    fixed = Walker(
        task,
        ScriptedOverseer(task),
        make_strategy("bernoulli", 0.2, tau),
        3,
        ml=FakeML(task),
        scorer=FakeScorer(task),
    )
    assert [signature(t) for t in fixed.walk_many(items[:1])] == [signature(serial[0])]


def test_option_checks() -> None:
    task = get_task("permutation")
    ml, scorer = FakeML(task), StepScorer(task)
    with pytest.raises(
        UsageError, match="--alpha-end applies to --strategy bernoulli or uncertainty, not full"
    ):
        check_options(RoundOptions(alpha_end=-1.0))
    check_options(RoundOptions(strategy="uncertainty", alpha_end=-1.0), ml=ml)
    for opts, flag in (
        (RoundOptions(pick="adversary"), "--pick adversary"),
        (RoundOptions(confidence=-0.1), r"--confidence \(the primed overseer\)"),
    ):
        with pytest.raises(
            UsageError, match=f"{flag} needs a trained model and adversary: run `ida train model`"
        ):
            check_options(opts)
        with pytest.raises(UsageError, match=f"{flag} needs a trained adversary: run `ida train adversary`"):
            check_options(opts, ml=ml)
        check_options(opts, ml=ml, scorer=scorer)
    with pytest.raises(UsageError, match="scores ML's steps"):
        check_options(RoundOptions(confidence=-0.1), ml=ml, scorer=FakeScorer(task))
    with pytest.raises(UsageError, match="--confidence must be a finite number"):
        check_options(RoundOptions(confidence=float("nan")), ml=ml, scorer=scorer)
    with pytest.raises(UsageError, match="--confidence"):
        Walker(task, ScriptedOverseer(task), make_strategy("full"), ml=ml, confidence=-0.1)
    assert RoundOptions(strategy="bernoulli", alpha_end=-2).params()["alpha"] == -0.5


def test_round_cli_flags(ida: Run) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "8", "--seed", "1")
    r = ida("round", "--alpha-end", "-1")
    assert (r.code, r.stderr) == (
        2,
        "error: --alpha-end applies to --strategy bernoulli or uncertainty, not full\n",
    )
    r = ida("round", "--pick", "adversary")
    assert r.code == 2 and "run `ida train model`, then `ida train adversary`" in r.stderr
    r = ida("round", "--confidence", "-0.1")
    assert r.code == 2 and "--confidence (the primed overseer) needs a trained model" in r.stderr


def _params(db: Path, round_id: int) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT params FROM rounds WHERE id = ?", [round_id]).fetchone()
    assert row is not None
    return dict(json.loads(row[0]))


def test_pick_adversary_goes_where_ml_fails(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "16", "--count", "400", "--seed", "4")
    task = get_task("permutation")
    ml = FakeML(task, p_right=0.7)

    def wrong_share(result: Any) -> float:
        with duckdb.connect(str(db), read_only=True) as con:
            qids = [
                r[0]
                for r in con.execute(
                    "SELECT question_id FROM trees WHERE round_id = ?", [result.round_id]
                ).fetchall()
            ]
            rows = con.execute(
                "SELECT c.data, q.question FROM questions q JOIN contexts c ON c.id = q.context_id "
                "WHERE q.id IN (SELECT unnest(?::BIGINT[]))",
                [qids],
            ).fetchall()
        got = ml.answer([(json.loads(c), json.loads(q)) for c, q in rows])
        truths = [task.truth(json.loads(c), json.loads(q)) for c, q in rows]
        return float(np.mean([a != t for (a, _), t in zip(got, truths, strict=True)]))

    store = Store(db)
    picked = run_round(
        store,
        RoundOptions(pick="adversary", questions=30, seed=2, temperature=0.1),
        ml=ml,
        scorer=FakeScorer(task),
    )
    assert picked.trees == 30 and len(picked.tree_ids) == 30
    params = _params(db, picked.round_id)
    assert params["pick_candidates"] == 400
    assert params["pick_score_mean"] < params["candidates_score_mean"] - 0.4
    assert picked.to_json()["pick_score_mean"] == params["pick_score_mean"]
    rand = run_round(store, RoundOptions(questions=30, seed=2), ml=ml)
    adversary_share, random_share = wrong_share(picked), wrong_share(rand)
    assert adversary_share > 0.9 and random_share < 0.5
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT pick FROM rounds ORDER BY id").fetchall() == [("adversary",), ("random",)]


def test_round_with_confidence_stores_the_primed_steps(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "16", "--count", "40", "--seed", "5")
    task = get_task("permutation")
    opts = RoundOptions(
        strategy="bernoulli", questions=30, seed=1, confidence=-0.5, temperature=0.3, alpha_end=-0.9
    )
    result = run_round(Store(db), opts, ml=FakeML(task), scorer=StepScorer(task, uneven))
    doc = result.to_json()
    assert result.model_steps > 0 and doc["model_steps"] == result.model_steps
    params = _params(db, result.round_id)
    assert params["confidence"] == -0.5 and params["alpha"] == -0.5 and params["alpha_end"] == -0.9
    assert params["trees"] == 30
    with duckdb.connect(str(db), read_only=True) as con:
        acts = con.execute("SELECT actor, note FROM actions WHERE note IS NOT NULL").fetchall()
        (oc, mc) = con.execute("SELECT sum(overseer_calls), sum(model_calls) FROM trees").fetchone() or (0, 0)
        (real,) = con.execute("SELECT count(*) FROM actions WHERE actor <> 'model'").fetchone() or (0,)
        (by_model,) = con.execute(
            "SELECT count(*) FROM nodes WHERE actor = 'model' AND recursed"
        ).fetchone() or (0,)
    assert oc == real == result.overseer_calls and mc == result.model_calls
    model = [json.loads(n) for a, n in acts if a == "model"]
    assert len(model) == result.model_steps and all(n["primed"] is True for n in model)
    for n in (json.loads(n) for _, n in acts):
        if not n.get("invalid"):
            assert n["primed"] == primed_take(n["score"], n["gumbel"], n["threshold"], -0.5, 0.3)
    assert by_model > 0  # nodes whose final answer was ML's step
    # training: every amplified node's answer (H' included, docs/spec.md §2.2), only the real overseer's steps
    from ida_cli.learn.data import gather

    with duckdb.connect(str(db), read_only=True) as con:
        rows = gather(con, "permutation", supervised=False)
        sql = "SELECT count(*) FROM nodes WHERE recursed AND answer <> '\"?\"'"
        (amplified,) = con.execute(sql).fetchone()
    kinds = [it[2] for it in rows.items]
    assert kinds.count("answer") == amplified and amplified > by_model
    assert kinds.count("fan_out") + kinds.count("fan_in") == real


class NoScorer(StepScorer):
    """An adversary that must not be read: scoring a step fails the test."""

    def score_steps(self, mode: str, items: Sequence[tuple[JSON, JSON, Any, Any]]) -> list[float]:
        raise AssertionError("a baseline's primed overseer read the adversary")


@pytest.mark.parametrize("by", ["uncertainty", "rate"])
def test_baselines_prime_without_the_adversary(by: str) -> None:
    """uncertainty's H' decides by ML's own log p of its step, random's at a fixed rate; neither
    asks the adversary (docs/spec.md §2.3), and each decision reproduces from its stored note."""
    task, tau = get_task("permutation"), 0.3
    items = items_for(task, 40)
    threshold = -0.5 if by == "uncertainty" else 0.3
    w = primed(task, FakeML(task, garble=0.1), NoScorer(task), threshold, tau, prime_by=by)
    taken = []
    for tree in w.walk_many(items):
        for actor, note in noted(tree):
            if note.get("invalid"):
                continue
            s, g, g2 = note["score"], note["gumbel"], note["threshold"]
            if by == "uncertainty":  # FakeML's usable steps have log p −0.01
                assert s == -0.01 and note["primed"] == primed_take(s, g, g2, threshold, tau)
            else:
                assert (g, g2) == (0.0, threshold) and note["primed"] == (s < threshold)
            assert actor == ("model" if note["primed"] else "scripted")
            taken.append(note["primed"])
    rate = float(np.mean(taken))
    # log p −0.01 against α' −0.5 at τ 0.3: sigmoid(0.49/0.3) = 0.84; the rate: 0.3
    assert (0.75 < rate < 0.92) if by == "uncertainty" else (0.22 < rate < 0.38)


def test_baseline_priming_checks() -> None:
    task = get_task("permutation")
    ml = FakeML(task)
    # uncertainty and random prime with a model alone
    check_options(RoundOptions(strategy="uncertainty", confidence=-0.1), ml=ml)
    check_options(RoundOptions(strategy="random", prime_rate=0.5), ml=ml)
    with pytest.raises(UsageError, match=r"--prime-rate \(the primed overseer\) needs a trained model"):
        Walker(task, ScriptedOverseer(task), make_strategy("full"), confidence=0.5, prime_by="rate")
    for opts, message in (
        (
            RoundOptions(strategy="random", confidence=-0.1),
            "--strategy random primes the overseer at a fixed rate, never by a score: use "
            "--prime-rate instead of --confidence",
        ),
        (
            RoundOptions(strategy="adversary", prime_rate=0.5),
            "--prime-rate applies to --strategy random only",
        ),
        (RoundOptions(strategy="random", prime_rate=1.5), "--prime-rate must be between 0 and 1"),
    ):
        with pytest.raises(UsageError, match=message):
            opts.check()
    assert RoundOptions(strategy="random", prime_rate=0.2).priming() == ("rate", 0.2)
    assert RoundOptions(strategy="uncertainty", confidence=-1.0).priming() == ("uncertainty", -1.0)
    assert RoundOptions(strategy="none", confidence=-1.0).priming() == ("adversary", -1.0)


def test_round_cli_prime_rate(ida: Run) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "8", "--seed", "1")
    r = ida("round", "--strategy", "random", "--confidence", "-0.1")
    assert (r.code, r.stderr) == (
        2,
        "error: --strategy random primes the overseer at a fixed rate, never by a score: use "
        "--prime-rate instead of --confidence\n",
    )
    r = ida("round", "--strategy", "adversary", "--prime-rate", "0.5")
    assert (r.code, r.stderr) == (2, "error: --prime-rate applies to --strategy random only, not adversary\n")


def test_rounds_are_primed_by_default_once_what_h_prime_reads_exists(ida: Run, db: Path) -> None:
    """The plain command is the measured best (issue 23): adversary, bernoulli and uncertainty
    prime H' at α' −0.15 with τ 0.05 where a model (and for the first two an adversary that
    scores steps) exists; full is never primed unasked; --no-prime keeps H."""
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "60", "--seed", "5")
    task, store = get_task("permutation"), Store(db)
    cases = [
        (RoundOptions(strategy="adversary", questions=4), StepScorer(task), -0.15),
        (RoundOptions(strategy="uncertainty", questions=4), None, -0.15),
        (RoundOptions(strategy="adversary", questions=4), FakeScorer(task), None),  # cannot score steps
        (RoundOptions(strategy="full", questions=4), StepScorer(task), None),
        (RoundOptions(strategy="adversary", questions=4, prime=False), StepScorer(task), None),
    ]
    for opts, scorer, confidence in cases:
        result = run_round(store, opts, ml=FakeML(task), scorer=scorer)
        params = _params(db, result.round_id)
        assert (params["confidence"], params["temperature"]) == (confidence, 0.05), opts
        assert (result.model_steps > 0) == (confidence is not None)
    with pytest.raises(UsageError, match="--no-prime keeps the overseer H: leave out --confidence"):
        RoundOptions(strategy="adversary", prime=False, confidence=-0.1).check()
