import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.errors import ParseError
from ida_cli.tasks import get_task
from ida_cli.tasks.base import expert_solve
from ida_cli.vocabulary import UNKNOWN, Answer, Ask

TASK = get_task("permutation")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.sampled_from([8, 16, 64]))
def test_scripted_hch_reaches_truth(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    ctx = TASK.generate_context(size, rng)
    TASK.validate_context(ctx)
    for q in TASK.generate_questions(ctx, 4, rng):
        TASK.check_question(q, ctx)
        answer, nodes = expert_solve(TASK, ctx, q)
        assert answer == TASK.truth(ctx, q)
        assert nodes > 1


def test_truth_by_hand() -> None:
    ctx = {"perm": [1, 2, 0, 3, 4, 5, 6, 7]}
    assert TASK.truth(ctx, {"x": 0, "k": 2}) == 2
    assert TASK.truth(ctx, {"x": 0, "k": 4}) == 1
    assert TASK.truth(ctx, {"x": 3, "k": 9}) == 3


def test_decomposition_steps() -> None:
    ctx = {"perm": [1, 2, 0, 3, 4, 5, 6, 7]}
    q = {"x": 0, "k": 5}
    assert TASK.expert_fan_out(ctx, q) == Ask(({"x": 0, "k": 2},))
    assert TASK.expert_fan_in(ctx, q, [({"x": 0, "k": 2}, 2)]) == Ask(({"x": 2, "k": 2},))
    t2 = [({"x": 0, "k": 2}, 2), ({"x": 2, "k": 2}, 1)]
    assert TASK.expert_fan_in(ctx, q, t2) == Ask(({"x": 1, "k": 1},))
    assert TASK.expert_fan_in(ctx, q, [*t2, ({"x": 1, "k": 1}, 2)]) == Answer(2)
    assert TASK.expert_fan_in(ctx, q, [({"x": 0, "k": 2}, "banana")]) == Answer(UNKNOWN)


def test_text_round_trip_and_errors() -> None:
    ctx = {"perm": list(range(8))}
    assert TASK.parse_question(TASK.question_text({"x": 3, "k": 5}), ctx) == {"x": 3, "k": 5}
    with pytest.raises(ParseError, match=r"x must be an item 0\.\.7"):
        TASK.parse_question("pow 9 5", ctx)
    with pytest.raises(ParseError, match="unknown question kind"):
        TASK.parse_question("sum 1 2", ctx)
    assert TASK.parse_answer("4", {"x": 0, "k": 2}, ctx) == 4
    assert TASK.parse_answer("?", {"x": 0, "k": 2}, ctx) == UNKNOWN
    with pytest.raises(ParseError, match="not a valid answer"):
        TASK.parse_answer("12", {"x": 0, "k": 2}, ctx)
    with pytest.raises(ParseError, match="empty answer"):
        TASK.parse_answer("  ", {"x": 0, "k": 2}, ctx)
