"""A question already open on its own path is not recursed on: ML's answer stands for it. ML's
wrong answers can close a cycle (unionfind: the parent of x is y and the parent of y is x), and
the expert, trusting its transcript, asks the ancestor's question again; left alone, the walk ran
such trees to the depth guard and spent overseer calls all the way down."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.rounds.options import make_strategy
from ida_cli.tasks import get_task
from ida_cli.vocabulary import JSON, Node, Tree, canonical
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.walker import Walker
from tests.helpers import FakeML, FakeScorer, items_for

TASK = get_task("unionfind")


class CycleML(FakeML):
    """Right everywhere but on the parents of two non-root variables, which it gives as each other."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(TASK, p_right=1.0)
        self.partner = {a: b, b: a}

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        out = super().answer(items)
        return [
            (self.partner[q["var"]], -0.01) if q["kind"] == "parent" and q["var"] in self.partner else got
            for (_, q), got in zip(items, out, strict=True)
        ]


class TrustsParents:
    """The adversary sure of every parent answer and doubtful of every other: the strategy recurses
    on "is x a root" and lets ML's parent stand."""

    def score(self, items: Sequence[tuple[JSON, JSON, JSON]], logps: Any = None) -> list[float]:
        return [0.0 if q["kind"] == "parent" else -1.0 for _, q, _ in items]


def _open_repeats(tree: Tree) -> int:
    def walk(node: Node, path: list[str]) -> int:
        key = canonical(node.question)
        here = int(node.recursed and key in path)
        return here + sum(walk(c, [*path, key]) for c in node.children)

    return walk(tree.root, [])


def _non_roots(context: JSON) -> list[str]:
    n = TASK.context_size(context)
    return [f"v{i}" for i in range(n) if f"v{i}" not in context["roots"]]


def test_a_cycle_of_wrong_parents_is_cut_at_the_first_repeat() -> None:
    context = TASK.generate_context(8, np.random.default_rng(3))
    a, b = _non_roots(context)[:2]
    walker = Walker(
        TASK,
        ScriptedOverseer(TASK),
        make_strategy("adversary", None, 0.05, None),
        3,
        ml=CycleML(a, b),
        scorer=TrustsParents(),
    )
    tree = walker.walk(context, {"kind": "value", "var": a}, 1)
    assert _open_repeats(tree) == 0
    # value a → value b → (value a again: ML answers) — a handful of levels, not the depth guard's 200
    assert max(n.depth for n in tree.root.walk()) <= 4
    assert tree.overseer_calls < 20
    loops = [n for n in tree.root.walk() if n.question == {"kind": "value", "var": a} and n.depth > 0]
    assert loops and all(not n.recursed and n.by == "model" for n in loops)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), strategy=st.sampled_from(["adversary", "bernoulli", "random", "full"]))
def test_no_recursed_node_repeats_an_open_question(seed: int, strategy: str) -> None:
    ml = FakeML(TASK, p_right=0.5)
    alpha, p = {"bernoulli": -0.6}.get(strategy), 0.5 if strategy == "random" else None
    walker = Walker(
        TASK,
        ScriptedOverseer(TASK),
        make_strategy(strategy, alpha, 0.05, p),
        seed,
        ml=ml,
        scorer=FakeScorer(TASK),
    )
    for tree in walker.walk_many(items_for(TASK, 12, size=8, seed=seed)):
        assert _open_repeats(tree) == 0
