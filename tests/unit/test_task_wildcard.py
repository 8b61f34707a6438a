import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.errors import ParseError
from ida_cli.tasks import get_task
from ida_cli.tasks.base import expert_solve
from ida_cli.vocabulary import UNKNOWN, Answer, Ask

TASK = get_task("wildcard")

# length 3: n = 8 strings, answers clip to ±4
CTX = {
    "values": {
        "aaa": 1,
        "aab": -1,
        "aba": 1,
        "abb": 1,
        "baa": -1,
        "bab": -1,
        "bba": 1,
        "bbb": 1,
    }
}
ALL_ONES = {"values": dict.fromkeys(CTX["values"], 1)}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.sampled_from([8, 16, 64]))
def test_scripted_hch_reaches_truth(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    ctx = TASK.generate_context(size, rng)
    TASK.validate_context(ctx)
    assert len(ctx["values"]) == size
    for q in TASK.generate_questions(ctx, 4, rng):
        TASK.check_question(q, ctx)
        assert "*" in q["pattern"]
        answer, nodes = expert_solve(TASK, ctx, q)
        assert answer == TASK.truth(ctx, q)
        assert TASK.answer_ok(q, answer, ctx)
        assert nodes > 1


def test_size_rounds_down_to_a_power_of_two() -> None:
    ctx = TASK.generate_context(12, np.random.default_rng(0))
    assert len(ctx["values"]) == 8
    TASK.validate_context(ctx)


def test_truth_by_hand() -> None:
    assert TASK.truth(CTX, {"pattern": "***"}) == 2
    assert TASK.truth(CTX, {"pattern": "a**"}) == 2
    assert TASK.truth(CTX, {"pattern": "*a*"}) == -2
    assert TASK.truth(CTX, {"pattern": "**b"}) == 0
    assert TASK.truth(CTX, {"pattern": "abb"}) == 1
    assert TASK.truth(CTX, {"pattern": "bab"}) == -1
    # 8 matches, clipped to n/2
    assert TASK.truth(ALL_ONES, {"pattern": "***"}) == 4
    assert TASK.truth(ALL_ONES, {"pattern": "a**"}) == 4


def test_decomposition_steps() -> None:
    q = {"pattern": "a*b"}
    halves = ({"pattern": "aab"}, {"pattern": "abb"})
    assert not TASK.is_primitive(CTX, q)
    assert TASK.is_primitive(CTX, halves[0])
    assert TASK.expert_fan_out(CTX, q) == Ask(halves)
    assert TASK.expert_fan_out(CTX, {"pattern": "*a*"}) == Ask(({"pattern": "aa*"}, {"pattern": "ba*"}))
    assert TASK.expert_fan_out(CTX, halves[0]) == Answer(-1)
    assert TASK.expert_fan_out(CTX, halves[1]) == Answer(1)
    assert TASK.expert_fan_in(CTX, q, [(halves[0], -1), (halves[1], 1)]) == Answer(0)
    top = {"pattern": "***"}
    subs = ({"pattern": "a**"}, {"pattern": "b**"})
    assert TASK.expert_fan_in(ALL_ONES, top, [(subs[0], 4), (subs[1], 4)]) == Answer(4)
    for garbage in ["banana", None, [1], 2, -3, True, 1.0]:
        assert TASK.expert_fan_in(CTX, q, [(halves[0], garbage), (halves[1], 1)]) == Answer(UNKNOWN)
        assert TASK.expert_fan_in(CTX, q, [(halves[0], 1), (halves[1], garbage)]) == Answer(UNKNOWN)
    assert TASK.expert_fan_in(CTX, top, [(subs[0], 5), (subs[1], 0)]) == Answer(UNKNOWN)
    assert TASK.expert_fan_in(CTX, q, [(halves[0], UNKNOWN), (halves[1], 1)]) == Answer(UNKNOWN)


def test_text_round_trip_and_errors() -> None:
    for pattern in ["a*b", "***", "bab"]:
        q = {"pattern": pattern}
        assert TASK.question_text(q) == f"sum {pattern}"
        assert TASK.parse_question(TASK.question_text(q), CTX) == q
    with pytest.raises(ParseError, match=re.escape("pattern must be 3 characters over a, b and *")):
        TASK.parse_question("sum a*c", CTX)
    with pytest.raises(ParseError, match="pattern must be 3 characters"):
        TASK.parse_question("sum a*", CTX)
    with pytest.raises(ParseError, match="a wildcard question is 'sum PATTERN'"):
        TASK.parse_question("sum", CTX)
    with pytest.raises(ParseError, match="a wildcard question is 'sum PATTERN'"):
        TASK.parse_question("sum a * b", CTX)
    with pytest.raises(ParseError, match="unknown question kind 'pow'"):
        TASK.parse_question("pow 1 2", CTX)
    with pytest.raises(ParseError, match="empty question"):
        TASK.parse_question("   ", CTX)
    with pytest.raises(ParseError, match="a wildcard question is"):
        TASK.check_question({"pattern": "a*b", "k": 1}, CTX)
    with pytest.raises(ParseError, match="JSON object"):
        TASK.check_question("a*b", CTX)


def test_answers() -> None:
    q, leaf = {"pattern": "a**"}, {"pattern": "aab"}
    assert TASK.parse_answer("-2", q, CTX) == -2
    assert TASK.parse_answer("4", {"pattern": "***"}, CTX) == 4
    assert TASK.parse_answer("+1", leaf, CTX) == 1
    assert TASK.parse_answer("?", q, CTX) == UNKNOWN
    assert TASK.answer_text(q, -2) == "-2"
    assert TASK.parse_answer("3", q, CTX) == 3  # well formed, though no sum of this context
    with pytest.raises(ParseError, match="between -4 and 4"):
        TASK.parse_answer("5", q, CTX)
    with pytest.raises(ParseError, match=r"not a valid answer.*\+1 or -1"):
        TASK.parse_answer("0", leaf, CTX)
    with pytest.raises(ParseError, match="not a valid answer"):
        TASK.parse_answer("yes", q, CTX)
    with pytest.raises(ParseError, match="not a valid answer"):
        TASK.parse_answer("1 1", q, CTX)
    with pytest.raises(ParseError, match="empty answer"):
        TASK.parse_answer("", q, CTX)


def test_validate_context() -> None:
    TASK.validate_context(CTX)
    with pytest.raises(ParseError, match=re.escape("'values' values must be +1 or -1")):
        TASK.validate_context({"values": {**CTX["values"], "aab": 2}})
    with pytest.raises(ParseError, match="'values' values"):
        TASK.validate_context({"values": {**CTX["values"], "aab": True}})
    missing = {k: v for k, v in CTX["values"].items() if k != "bbb"}
    with pytest.raises(ParseError, match="every string over a, b"):
        TASK.validate_context({"values": {**missing, "bbc": 1}})
    with pytest.raises(ParseError, match=re.escape("keys must have length 3..6")):
        TASK.validate_context({"values": {"aa": 1, "ab": 1, "ba": 1, "bb": 1}})
    with pytest.raises(ParseError, match="'values' must be an object"):
        TASK.validate_context({"values": [1, -1]})
    with pytest.raises(ParseError, match="context needs a 'values' object"):
        TASK.validate_context({"perm": [0, 1]})


def test_render_and_tokens() -> None:
    text = TASK.render_context(CTX)
    lines = text.splitlines()
    assert len(lines) == 9
    assert lines[0].split() == ["string", "value"]
    assert lines[2].split() == ["aab", "-1"]
    assert lines[4].split() == ["abb", "+1"]
    assert TASK.context_tokens(CTX) == ["+", "-", "+", "+", "-", "-", "+", "+"]
    big = TASK.generate_context(64, np.random.default_rng(1))
    assert len(TASK.context_tokens(big)) == 64
    assert set(TASK.context_tokens(big)) <= {"+", "-"}
