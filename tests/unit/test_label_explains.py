"""The label screen says why a subquestion came to the person (issue 21, item 9): the chance each
child had under the strategy, what S means, and what questions look like on the task."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from ida_cli.label.human import Frame, HumanOverseer
from ida_cli.tasks import BUILTIN, get_task
from ida_cli.tasks.base import question_examples
from ida_cli.walk.strategies import (
    AdversaryStrategy,
    BernoulliStrategy,
    FullStrategy,
    NoneStrategy,
    RandomStrategy,
    choose_adversary,
    recursion_chances,
)


def test_recursion_chances_follow_each_rule() -> None:
    # the case that read as the adversary contradicting itself: the higher S was picked, at 48%
    adv = recursion_chances(AdversaryStrategy(1.0), [-0.39, -0.46])
    assert adv is not None and adv[1] == pytest.approx(1 / (1 + math.exp(-0.07)))
    assert adv[0] + adv[1] == pytest.approx(1.0) and adv[0] < 0.5
    assert recursion_chances(AdversaryStrategy(0.05), [-0.39, -0.46])[1] > 0.75  # type: ignore[index]
    assert recursion_chances(AdversaryStrategy(1.0), [-0.2]) == [1.0]
    bern = recursion_chances(BernoulliStrategy(-0.5, 1.0), [-0.5, 0.0])
    assert bern == pytest.approx([0.5, 1 / (1 + math.exp(0.5))])
    assert recursion_chances(FullStrategy(), [None, None]) == [1.0, 1.0]
    assert recursion_chances(NoneStrategy(), [None]) == [0.0]
    assert recursion_chances(RandomStrategy(0.3), [None, None]) == [0.3, 0.3]
    assert recursion_chances(AdversaryStrategy(1.0), [None, -0.1]) is None


def test_the_chance_matches_the_gumbel_draws() -> None:
    rng = np.random.default_rng(0)
    s = np.array([-0.39, -0.46])
    picked = np.mean([choose_adversary(s, 1.0, rng).recurse[1] for _ in range(20000)])
    chances = recursion_chances(AdversaryStrategy(1.0), list(s))
    assert chances is not None and abs(picked - chances[1]) < 0.015


def test_the_person_is_told_the_chances_and_what_s_means() -> None:
    task = get_task("permutation")
    session = SimpleNamespace(task=task, strategy="adversary", opts=SimpleNamespace(annotator="ann"))
    human = HumanOverseer(session)  # type: ignore[arg-type]
    asked = ({"x": 1, "k": 2}, {"x": 3, "k": 2})
    human.stack.append(Frame({"x": 1, "k": 4}, asked=asked, ml_answers=[5, 6]))
    choice = SimpleNamespace(recurse=(False, True))
    human.seen_choice(choice, [-0.39, -0.46], [0.4825, 0.5175])  # type: ignore[arg-type]
    _, lines = human.stack[-1].pending[0]
    assert lines[0] == (
        "the adversary picked this one of your two subquestions (S -0.46, 52% chance of coming to you)"
    )
    assert lines[1].startswith("ML answers the other, pow 1 2 → 5 (S -0.39, 48% chance of coming to you)")
    assert lines[2].startswith("S is the adversary's guess of ML's loss: near 0, ML is likely right")


@pytest.mark.parametrize("name", BUILTIN)
def test_question_examples_are_questions_the_task_parses(name: str) -> None:
    task = get_task(name)
    rng = np.random.default_rng(1)
    context = task.generate_context(8, rng)
    examples = question_examples(task, context, task.generate_question(context, rng))
    assert examples and len({e.split()[0] for e in examples}) == len(examples)
    for text in examples:
        task.parse_question(text, context)  # raises on a malformed example
    assert len(examples) >= {"unionfind": 4, "shortpath": 3, "assignments": 3}.get(name, 1)
