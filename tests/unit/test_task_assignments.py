import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.errors import ParseError
from ida_cli.tasks import get_task
from ida_cli.tasks.base import expert_solve
from ida_cli.vocabulary import UNKNOWN, Answer, Ask

TASK = get_task("assignments")

# v2 = f(3, 5) = 6, v3 = f(6, 3) = 5, v4 = f(5, 5) = 4, v5 = f(4, 6) = 2, v6 = f(3, 2) = 3, v7 = f(3, 5) = 6
CTX = {
    "base": {"v0": 3, "v1": 5},
    "defs": {
        "v2": ["v0", "v1"],
        "v3": ["v2", "v0"],
        "v4": ["v1", "v3"],
        "v5": ["v4", "v2"],
        "v6": ["v0", "v5"],
        "v7": ["v6", "v3"],
    },
    "table": [[(3 * a + b) % 8 for b in range(8)] for a in range(8)],
}


def _with(**changes: object) -> dict:
    return {**CTX, **changes}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.sampled_from([8, 16, 64]))
def test_scripted_hch_reaches_truth(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    ctx = TASK.generate_context(size, rng)
    TASK.validate_context(ctx)
    assert len(ctx["base"]) == math.isqrt(size)
    assert len(ctx["base"]) + len(ctx["defs"]) == size
    for q in TASK.generate_questions(ctx, 3, rng):
        TASK.check_question(q, ctx)
        assert q["var"] in ctx["defs"]
        answer, nodes = expert_solve(TASK, ctx, q)
        assert answer == TASK.truth(ctx, q)
        assert TASK.answer_ok(q, answer, ctx)
        assert nodes > 1


def test_truth_by_hand() -> None:
    values = [3, 5, 6, 5, 4, 2, 3, 6]
    for i, v in enumerate(values):
        assert TASK.truth(CTX, {"var": f"v{i}"}) == v
    assert TASK.truth(CTX, {"kind": "operands", "var": "v5"}) == ["v4", "v2"]
    assert TASK.truth(CTX, {"kind": "operands", "var": "v1"}) is None
    assert TASK.truth(CTX, {"kind": "apply", "a": 2, "b": 3}) == 1


def test_primitives() -> None:
    assert TASK.is_primitive(CTX, {"var": "v0"})
    assert not TASK.is_primitive(CTX, {"var": "v5"})
    assert TASK.is_primitive(CTX, {"kind": "operands", "var": "v5"})
    assert TASK.is_primitive(CTX, {"kind": "apply", "a": 4, "b": 6})
    assert TASK.expert_fan_out(CTX, {"var": "v1"}) == Answer(5)
    assert TASK.expert_fan_out(CTX, {"kind": "operands", "var": "v5"}) == Answer(["v4", "v2"])
    assert TASK.expert_fan_out(CTX, {"kind": "operands", "var": "v0"}) == Answer(None)
    assert TASK.expert_fan_out(CTX, {"kind": "apply", "a": 4, "b": 6}) == Answer(2)


def test_decomposition_steps() -> None:
    q = {"var": "v5"}
    ops = {"kind": "operands", "var": "v5"}
    assert TASK.expert_fan_out(CTX, q) == Ask((ops,))
    t1 = [(ops, ["v4", "v2"])]
    assert TASK.expert_fan_in(CTX, q, t1) == Ask(({"var": "v4"}, {"var": "v2"}))
    t3 = [*t1, ({"var": "v4"}, 4), ({"var": "v2"}, 6)]
    apply = {"kind": "apply", "a": 4, "b": 6}
    assert TASK.expert_fan_in(CTX, q, t3) == Ask((apply,))
    assert TASK.expert_fan_in(CTX, q, [*t3, (apply, 2)]) == Answer(2)
    # malformed operands: none for a defined variable, wrong arity, repeats, later or unknown names
    for garbage in [None, "banana", "v4", ["v4"], ["v4", "v4"], ["v4", "v9"], ["v6", "v2"], [4, 2], 7]:
        assert TASK.expert_fan_in(CTX, q, [(ops, garbage)]) == Answer(UNKNOWN)
    for garbage in [8, -1, "x", None, True, [4], UNKNOWN]:
        bad = [*t1, ({"var": "v4"}, garbage), ({"var": "v2"}, 6)]
        assert TASK.expert_fan_in(CTX, q, bad) == Answer(UNKNOWN)
        assert TASK.expert_fan_in(CTX, q, [*t3, (apply, garbage)]) == Answer(UNKNOWN)


def test_text_round_trip() -> None:
    cases = {
        "value v5": {"var": "v5"},
        "value v0": {"var": "v0"},
        "operands v5": {"kind": "operands", "var": "v5"},
        "apply 3 4": {"kind": "apply", "a": 3, "b": 4},
    }
    for text, q in cases.items():
        assert TASK.question_text(q) == text
        assert TASK.parse_question(text, CTX) == q


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("value v8", "var must be a variable v0..v7, got 'v8'"),
        ("value x3", "var must be a variable"),
        ("value v05", "var must be a variable"),
        ("operands v10", "var must be a variable"),
        ("apply 8 0", "apply arguments must be values 0..7"),
        ("apply 1 -1", "apply arguments must be values 0..7"),
        ("apply a 1", "A must be an integer"),
        ("apply 1", "an apply question is 'apply A B'"),
        ("apply 1 2 3", "an apply question is 'apply A B'"),
        ("operands", "an operands question is 'operands VAR'"),
        ("value v1 v2", "a value question is 'value VAR'"),
        ("frob v1", "unknown question kind 'frob'"),
        ("", "empty question"),
    ],
)
def test_question_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        TASK.parse_question(text, CTX)


def test_question_json_errors() -> None:
    with pytest.raises(ParseError, match="unknown question kind 'frob'"):
        TASK.check_question({"kind": "frob", "var": "v1"}, CTX)
    with pytest.raises(ParseError, match="a value question is"):
        TASK.check_question({"var": "v1", "k": 2}, CTX)
    with pytest.raises(ParseError, match="an apply question is"):
        TASK.check_question({"kind": "apply", "a": 1}, CTX)
    with pytest.raises(ParseError, match="an operands question is"):
        TASK.check_question({"kind": "operands"}, CTX)
    with pytest.raises(ParseError, match="apply arguments"):
        TASK.check_question({"kind": "apply", "a": True, "b": 1}, CTX)
    with pytest.raises(ParseError, match="JSON object"):
        TASK.check_question(["v1"], CTX)


def test_answers() -> None:
    value, ops = {"var": "v5"}, {"kind": "operands", "var": "v5"}
    base_ops = {"kind": "operands", "var": "v1"}
    assert TASK.parse_answer("2", value, CTX) == 2
    assert TASK.parse_answer("v4 v2", ops, CTX) == ["v4", "v2"]
    assert TASK.parse_answer("v4, v2", ops, CTX) == ["v4", "v2"]
    assert TASK.parse_answer("none", base_ops, CTX) is None
    assert TASK.parse_answer("?", ops, CTX) == UNKNOWN
    assert TASK.answer_text(ops, ["v4", "v2"]) == "v4 v2"
    assert TASK.answer_text(base_ops, None) == "none"
    with pytest.raises(ParseError, match=re.escape("integer 0..7")):
        TASK.parse_answer("8", value, CTX)
    with pytest.raises(ParseError, match=re.escape("integer 0..7")):
        TASK.parse_answer("v3", value, CTX)
    with pytest.raises(ParseError, match="two distinct earlier variables"):
        TASK.parse_answer("v4", ops, CTX)
    with pytest.raises(ParseError, match="two distinct earlier variables"):
        TASK.parse_answer("v4 v4", ops, CTX)
    with pytest.raises(ParseError, match="two distinct earlier variables"):
        TASK.parse_answer("v4 v2 v1", ops, CTX)
    with pytest.raises(ParseError, match="two distinct earlier variables"):
        TASK.parse_answer("v7 v2", ops, CTX)
    with pytest.raises(ParseError, match="not a valid answer to 'apply 1 2'"):
        TASK.parse_answer("9", {"kind": "apply", "a": 1, "b": 2}, CTX)
    with pytest.raises(ParseError, match="empty answer"):
        TASK.parse_answer(" ", value, CTX)


def test_validate_context() -> None:
    TASK.validate_context(CTX)
    with pytest.raises(ParseError, match="'defs' v3 may use only earlier variables"):
        TASK.validate_context(_with(defs={**CTX["defs"], "v3": ["v2", "v5"]}))
    with pytest.raises(ParseError, match="'defs' v3 must be a list of two distinct"):
        TASK.validate_context(_with(defs={**CTX["defs"], "v3": ["v2", "v2"]}))
    with pytest.raises(ParseError, match="'defs' v3 must be a list of two distinct"):
        TASK.validate_context(_with(defs={**CTX["defs"], "v3": ["v2"]}))
    with pytest.raises(ParseError, match=re.escape("'base' values must be integers 0..7")):
        TASK.validate_context(_with(base={"v0": 3, "v1": 9}))
    with pytest.raises(ParseError, match=re.escape("each of v0..v7 exactly once")):
        defs = {("v8" if k == "v7" else k): v for k, v in CTX["defs"].items()}
        TASK.validate_context(_with(defs=defs))
    with pytest.raises(ParseError, match="'table' must be a 8x8"):
        TASK.validate_context(_with(table=CTX["table"][:7]))
    with pytest.raises(ParseError, match=re.escape("'table' entries must be integers 0..7")):
        TASK.validate_context(_with(table=[[8] * 8] * 8))
    with pytest.raises(ParseError, match=re.escape("8..64 variables")):
        TASK.validate_context(_with(defs={"v2": ["v0", "v1"]}))
    with pytest.raises(ParseError, match="context needs 'base', 'defs' and 'table'"):
        TASK.validate_context({"base": {}, "defs": {}})


def test_render_and_tokens() -> None:
    lines = TASK.render_context(CTX).splitlines()
    assert lines[0] == "v0 := 3"
    assert lines[5] == "v5 := f(v4, v2)"
    assert lines[-8].split() == ["0", "|", "0", "1", "2", "3", "4", "5", "6", "7"]
    assert lines[-1].split()[:4] == ["7", "|", "5", "6"]
    tokens = TASK.context_tokens(CTX)
    assert tokens[:6] == ["3", "5", "v0", "v1", "v2", "v0"]
    assert len(tokens) == 2 + 2 * 6 + 64
    big = TASK.generate_context(64, np.random.default_rng(3))
    vocab = {str(v) for v in range(8)} | {f"v{i}" for i in range(64)}
    assert set(TASK.context_tokens(big)) <= vocab
    assert len(TASK.context_tokens(big)) == 8 + 2 * 56 + 64
