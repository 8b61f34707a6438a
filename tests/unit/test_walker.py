"""The walker with the scripted overseer: full HCH reaches the truth everywhere, and every overseer
call is recorded and counted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.tasks import BUILTIN, get_task
from ida_cli.vocabulary import Answer, Ask, tree_from_json
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.walker import FullStrategy, Walker, WalkError


@settings(max_examples=25, deadline=None)
@given(task_name=st.sampled_from(BUILTIN), size=st.sampled_from([8, 16, 64]), seed=st.integers(0, 2**32 - 1))
def test_scripted_full_hch_reaches_ground_truth(task_name: str, size: int, seed: int) -> None:
    task = get_task(task_name)
    rng = np.random.default_rng(seed)
    ctx = task.generate_context(size, rng)
    walker = Walker(task, ScriptedOverseer(task), FullStrategy(), seed)
    for q in task.generate_questions(ctx, 3, rng):
        tree = walker.walk(ctx, q)
        assert tree.root.answer == task.truth(ctx, q)
        nodes = tree.nodes()
        # HCH is exact at every node, not only at the root
        assert all(n.correct for n in nodes)
        assert all(n.recursed and n.by == "scripted" for n in nodes)
        # one fan-out per node plus one fan-in per step that asked: every call is an action
        asking_steps = sum(len({c.step for c in n.children}) for n in nodes)
        assert tree.overseer_calls == len(nodes) + asking_steps == len(tree.actions)
        assert (
            tree.primitive_calls == sum(n.primitive for n in nodes) == sum(a.primitive for a in tree.actions)
        )
        assert tree.model_calls == 0
        # docs/spec.md §6.2 round trip
        again = tree_from_json(tree.to_json())
        assert again.to_json() == tree.to_json()


class LoopingOverseer:
    actor = "human:loop"

    def fan_out(self, context: object, question: object) -> Answer | Ask:
        return Ask((question,))

    def fan_in(self, context: object, question: object, transcript: object) -> Answer | Ask:
        return Answer(0)


def test_a_subquestion_identical_to_its_parent_is_refused() -> None:
    task = get_task("permutation")
    walker = Walker(task, LoopingOverseer(), FullStrategy(), 0)
    with pytest.raises(WalkError, match="'pow 1 5' asked itself: it would loop"):
        walker.walk({"perm": list(range(8))}, {"x": 1, "k": 5})


class DeepOverseer:
    """Asks ever larger k: never bottoms out on its own."""

    actor = "human:deep"

    def fan_out(self, context: object, question: dict) -> Answer | Ask:  # type: ignore[type-arg]
        return Ask(({"x": question["x"], "k": question["k"] + 1},))

    def fan_in(self, context: object, question: object, transcript: list) -> Answer | Ask:  # type: ignore[type-arg]
        return Answer(transcript[-1][1])


def test_the_depth_guard_stops_a_runaway_decomposition() -> None:
    task = get_task("permutation")
    walker = Walker(task, DeepOverseer(), FullStrategy(), 0, max_depth=5)
    tree = walker.walk({"perm": list(range(8))}, {"x": 1, "k": 2})
    assert tree.depth == 6
    leaf = next(n for n in tree.nodes() if not n.children)
    assert (leaf.answer, leaf.recursed) == ("?", False)
    assert tree.root.answer == "?"


def test_walk_many_without_ml_matches_walk_one_at_a_time() -> None:
    task = get_task("unionfind")
    rng = np.random.default_rng(5)
    ctx = task.generate_context(16, rng)
    items = [(ctx, q, None) for q in task.generate_questions(ctx, 8, rng)]
    one = Walker(task, ScriptedOverseer(task), FullStrategy(), 9)
    many = Walker(task, ScriptedOverseer(task), FullStrategy(), 9)
    serial = [one.walk(c, q).to_json() for c, q, _ in items]
    assert [t.to_json() for t in many.walk_many(items, concurrency=4)] == serial
    assert not many.batches and many.walked == len(items)
