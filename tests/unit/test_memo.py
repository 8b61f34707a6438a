"""The memoizing overseer (docs/spec.md §2.3; issue 22 item 3): within a tree, a subquestion the
overseer already answered gets the same answer without a call. Full HCH stays exact, the saved
calls are counted as memo hits, and a tree still depends on its own question alone."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.tasks import BUILTIN, get_task
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.walker import FullStrategy, Walker


@settings(max_examples=20, deadline=None)
@given(task_name=st.sampled_from(BUILTIN), seed=st.integers(0, 2**32 - 1))
def test_memo_keeps_full_hch_exact_and_only_saves_calls(task_name: str, seed: int) -> None:
    task = get_task(task_name)
    rng = np.random.default_rng(seed)
    ctx = task.generate_context(16, rng)
    plain = Walker(task, ScriptedOverseer(task), FullStrategy(), seed)
    memo = Walker(task, ScriptedOverseer(task), FullStrategy(), seed, memo=True)
    for q in task.generate_questions(ctx, 3, rng):
        a, b = plain.walk(ctx, q), memo.walk(ctx, q)
        assert b.root.answer == a.root.answer == task.truth(ctx, q)
        assert all(n.correct for n in b.nodes())
        assert a.memo_hits == 0 and b.overseer_calls <= a.overseer_calls
        assert (b.memo_hits > 0) == (b.overseer_calls < a.overseer_calls)
        acted = {id(act.node) for act in b.actions}
        remembered = [n for n in b.nodes() if n.recursed and id(n) not in acted]
        assert len(remembered) == b.memo_hits  # a memo hit is a node with no overseer step
        assert all(n.by == "scripted" and not n.children for n in remembered)


def test_memo_trees_do_not_depend_on_interleaving() -> None:
    task = get_task("permutation")
    rng = np.random.default_rng(4)
    ctx = task.generate_context(16, rng)
    questions = task.generate_questions(ctx, 6, rng)
    walker = Walker(task, ScriptedOverseer(task), FullStrategy(), 7, memo=True)
    alone = [walker.walk(ctx, q, i).to_json() for i, q in enumerate(questions)]
    together = walker.walk_many([(ctx, q, i) for i, q in enumerate(questions)], concurrency=6)
    assert [t.to_json() for t in together] == alone
    assert sum(t.memo_hits for t in walker.walk_many([(ctx, q, i) for i, q in enumerate(questions)])) > 0
