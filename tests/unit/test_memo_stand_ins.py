"""`--memo-stand-ins`: the memo also answers a subquestion the strategy left to ML, where the
overseer already answered it in the tree. No call is added; ML's answer stays on the node for the
adversary's data. `--memo-primed`: the memo also keeps the answers the primed overseer H' gave."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.tasks import BUILTIN, get_task
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Node, Step, Transcript, Tree, canonical
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.strategies import Choice, RandomStrategy, choose_full, choose_none
from ida_cli.walk.walker import FullStrategy, Walker


class PlannedStrategy:
    """Recurses on each decision as planned, in the walk's order."""

    name = "random"

    def __init__(self, plan: list[bool]) -> None:
        self.plan = list(plan)

    def choose(self, k: int, logps: object, scores: object, rng: np.random.Generator) -> Choice:
        return choose_full(k) if self.plan.pop(0) else choose_none(k)


class ConstantML:
    def __init__(self, value: JSON) -> None:
        self.value = value

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        return [(self.value, -1.0) for _ in items]


PERM = [0, 3, 2, 1, 4, 5, 6, 7]


def walk(stand_ins: bool) -> Tree:
    # σ swaps 1 and 3: σ^4(1) asks σ^2(1), which is 1, then σ^2(1) again, now left to ML
    task = get_task("permutation")
    walker = Walker(
        task,
        ScriptedOverseer(task),
        PlannedStrategy([True, True, True, False]),
        0,
        ml=ConstantML(5),  # type: ignore[arg-type]
        memo=True,
        memo_stand_ins=stand_ins,
    )
    return walker.walk({"perm": PERM}, {"x": 1, "k": 4})


def test_a_subquestion_left_to_ml_gets_the_overseers_earlier_answer() -> None:
    plain, reused = walk(False), walk(True)
    for tree in (plain, reused):
        assert [c.question for c in tree.root.children] == [{"x": 1, "k": 2}, {"x": 1, "k": 2}]
    left, recalled = plain.root.children[1], reused.root.children[1]
    assert (left.answer, left.by, left.recursed, plain.memo_hits) == (5, "model", False, 0)
    assert (recalled.answer, recalled.by, recalled.recursed, reused.memo_hits) == (1, "scripted", True, 1)
    assert recalled.ml_answer == 5 and not recalled.children  # ML's answer kept for the adversary
    truth = get_task("permutation").truth({"perm": PERM}, {"x": 1, "k": 4})
    assert (plain.root.answer, reused.root.answer, truth) == (5, 1, 1)
    assert reused.overseer_calls == plain.overseer_calls


class HalfRightML:
    """The truth for some questions, "I don't know" or a wrong item for the others."""

    def __init__(self, task: Task, context: JSON) -> None:
        self.task, self.context = task, context

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        out: list[tuple[JSON, float]] = []
        for context, q in items:
            h = zlib.crc32(canonical(q).encode()) % 3
            out.append((self.task.truth(context, q) if h == 0 else UNKNOWN if h == 1 else 0, -1.0))
        return out


def left_to_ml_though_known(root: Node) -> list[Node]:
    """Nodes ML answered whose question the overseer had answered before the walk reached them:
    in pre-order, every earlier node but the ancestors was finished by then."""
    found, known = [], set()

    def visit(node: Node, path: set[str]) -> None:
        key = canonical(node.question)
        if not node.recursed and node.by == "model" and key in known:
            found.append(node)
        for child in node.children:
            visit(child, path | {key})
        if node.recursed and node.by != "model" and node.answer != UNKNOWN:
            known.add(key)

    visit(root, set())
    return found


@settings(max_examples=25, deadline=None)
@given(task_name=st.sampled_from(BUILTIN), seed=st.integers(0, 2**32 - 1))
def test_with_stand_ins_no_known_answer_is_left_to_ml(task_name: str, seed: int) -> None:
    task = get_task(task_name)
    rng = np.random.default_rng(seed)
    ctx = task.generate_context(8, rng)
    ml = HalfRightML(task, ctx)
    strategy = RandomStrategy(0.5)
    walker = Walker(task, ScriptedOverseer(task), strategy, seed, ml=ml, memo=True, memo_stand_ins=True)  # type: ignore[arg-type]
    for q in task.generate_questions(ctx, 3, rng):
        tree = walker.walk(ctx, q)
        assert left_to_ml_though_known(tree.root) == []
        acted = {id(act.node) for act in tree.actions}
        hits = [n for n in tree.nodes() if n.recursed and id(n) not in acted]
        assert len(hits) == tree.memo_hits and all(n.by == "scripted" and not n.children for n in hits)


def test_grid_keys_and_labels() -> None:
    from ida_cli.experiment.report import variant
    from ida_cli.grid.spec import Cell

    base = {"per_round": 160, "budget": 500}
    plain = Cell("permutation", "adversary", 1, base)
    assert Cell("permutation", "adversary", 1, {**base, "memo_stand_ins": False}).key == plain.key
    assert Cell("permutation", "adversary", 1, {**base, "memo_stand_ins": True}).key != plain.key
    for strategy in ("full", "supervised"):  # nothing is left to ML: the same cell
        cell = Cell("permutation", strategy, 1, base)
        assert Cell("permutation", strategy, 1, {**base, "memo_stand_ins": True}).key == cell.key
    assert Cell("permutation", "full", 1, {**base, "memo_primed": True}).key != cell.key
    assert (
        Cell("permutation", "supervised", 1, {**base, "memo_primed": True}).key
        == Cell("permutation", "supervised", 1, base).key
    )
    online = {"schedule": "online", "step_share": None}
    assert variant({"strategy": "random", **online, "memo_stand_ins": True}) == "random (memo stand-ins)"
    assert variant({"strategy": "full", **online, "memo_stand_ins": True}) == "full"
    both = {"memo_stand_ins": True, "memo_primed": True}
    assert (
        variant({"strategy": "uncertainty", "prime": True, **online, **both})
        == "uncertainty (memo stand-ins, memo primed)"
    )


class FanInML:
    """Leaves every fan-out to the overseer ("?") and proposes the expert's fan-ins."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        return [(self.task.truth(c, q), -1.0) for c, q in items]

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        return [(Answer(UNKNOWN), -1.0) for _ in items]

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        return [(self.task.expert_fan_in(c, q, t), -1.0) for c, q, t in items]


def test_memo_primed_keeps_the_answers_h_prime_gave() -> None:
    # H' (at rate 1) takes every fan-in: every node above the primitive ones ends with ML's step,
    # which the plain memo does not keep
    task = get_task("permutation")
    rng = np.random.default_rng(3)
    ctx = task.generate_context(8, rng)
    questions = task.generate_questions(ctx, 8, rng)
    trees = {}
    for primed in (False, True):
        walker = Walker(
            task,
            ScriptedOverseer(task),
            FullStrategy(),
            0,
            ml=FanInML(task),
            confidence=1.0,
            prime_by="rate",
            memo=True,
            memo_primed=primed,
        )
        trees[primed] = [walker.walk(ctx, q) for q in questions]
    for walked in trees.values():
        assert [t.root.answer for t in walked] == [task.truth(ctx, q) for q in questions]
        assert all(n.by == "model" for t in walked for n in t.nodes() if not n.primitive)
    acted = {id(a.node) for t in trees[False] + trees[True] for a in t.actions}
    hits = {p: [n for t in trees[p] for n in t.nodes() if id(n) not in acted] for p in trees}
    assert [len(hits[p]) for p in trees] == [sum(t.memo_hits for t in trees[p]) for p in trees]
    assert all(n.primitive and n.by == "scripted" for n in hits[False])  # the expert's answers only
    assert any(not n.primitive and n.by == "model" for n in hits[True])
    calls = {p: sum(t.overseer_calls for t in trees[p]) for p in trees}
    assert calls[True] < calls[False]
