import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.errors import ParseError
from ida_cli.tasks import get_task
from ida_cli.tasks.base import expert_solve
from ida_cli.vocabulary import UNKNOWN, Answer, Ask

TASK = get_task("unionfind")

# v4–v1–v2 and v4–v3–v0 under root v2 = 5; v5–v6–v7 under root v7 = 7
CTX = {
    "roots": {"v2": 5, "v7": 7},
    "edges": [["v4", "v1"], ["v3", "v4"], ["v1", "v2"], ["v0", "v3"], ["v5", "v6"], ["v7", "v6"]],
}


def q(kind: str, var: str) -> dict[str, str]:
    return {"kind": kind, "var": var}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.sampled_from([8, 16, 64]))
def test_scripted_hch_reaches_truth(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    ctx = TASK.generate_context(size, rng)
    TASK.validate_context(ctx)
    assert len(ctx["roots"]) == max(2, size // 8)
    assert len(ctx["edges"]) == size - len(ctx["roots"])
    assert TASK.context_size(ctx) == size
    var = f"v{int(rng.integers(size))}"
    questions = [*TASK.generate_questions(ctx, 3, rng), q("value", var), q("parent", var), q("depth", var)]
    for question in questions:
        TASK.check_question(question, ctx)
        answer, nodes = expert_solve(TASK, ctx, question)
        assert answer == TASK.truth(ctx, question)
        assert TASK.answer_ok(question, answer, ctx)
        assert nodes > 1


def test_truth_by_hand() -> None:
    TASK.validate_context(CTX)
    assert TASK.truth(CTX, q("value", "v0")) == 5
    assert TASK.truth(CTX, q("value", "v5")) == 7
    assert TASK.truth(CTX, q("value", "v2")) == 5
    assert TASK.truth(CTX, q("parent", "v4")) == "v1"
    assert TASK.truth(CTX, q("parent", "v0")) == "v3"
    assert TASK.truth(CTX, q("parent", "v2")) == "v2"
    assert TASK.truth(CTX, q("depth", "v0")) == 4
    assert TASK.truth(CTX, q("depth", "v4")) == 2
    assert TASK.truth(CTX, q("depth", "v7")) == 0
    assert TASK.truth(CTX, q("root", "v2")) == 5
    assert TASK.truth(CTX, q("root", "v4")) is None
    assert TASK.truth(CTX, q("neighbors", "v4")) == ["v1", "v3"]
    assert TASK.truth(CTX, {"kind": "edge", "a": "v2", "b": "v1"}) is True
    assert TASK.truth(CTX, {"kind": "edge", "a": "v2", "b": "v4"}) is False


def test_neighbors_sorted_by_number() -> None:
    star = {"roots": {"v0": 1}, "edges": [["v0", f"v{i}"] for i in (10, 2, 11, 1, 3, 4, 5, 6, 7, 8, 9)]}
    TASK.validate_context(star)
    assert TASK.truth(star, q("neighbors", "v0")) == [f"v{i}" for i in range(1, 12)]


def test_value_and_depth_steps() -> None:
    for kind, at_root, sub, expected in (("value", 5, 5, 5), ("depth", 0, 1, 2)):
        question = q(kind, "v4")
        assert TASK.expert_fan_out(CTX, question) == Ask((q("root", "v4"), q("parent", "v4")))
        t = [(q("root", "v4"), None), (q("parent", "v4"), "v1")]
        assert TASK.expert_fan_in(CTX, question, t) == Ask((q(kind, "v1"),))
        assert TASK.expert_fan_in(CTX, question, [*t, (q(kind, "v1"), sub)]) == Answer(expected)
        at = [(q("root", "v2"), 5), (q("parent", "v2"), "banana")]
        assert TASK.expert_fan_in(CTX, q(kind, "v2"), at) == Answer(at_root)
        bad_subanswers = ["v1", 12, [5], {"x": 1}, True]
        for bad in bad_subanswers:
            assert TASK.expert_fan_in(CTX, question, [(q("root", "v4"), bad), t[1]]) == Answer(UNKNOWN)
        for bad in ["v9", "v4", None, 3, "x1", ["v1"], "?"]:
            assert TASK.expert_fan_in(CTX, question, [t[0], (q("parent", "v4"), bad)]) == Answer(UNKNOWN)
        for bad in ["v1", None, -1, 10, 1.0, "?", [1]]:
            assert TASK.expert_fan_in(CTX, question, [*t, (q(kind, "v1"), bad)]) == Answer(UNKNOWN)
    # a depth of n - 1 has no valid successor
    t = [(q("root", "v4"), None), (q("parent", "v4"), "v1"), (q("depth", "v1"), 7)]
    assert TASK.expert_fan_in(CTX, q("depth", "v4"), t) == Answer(UNKNOWN)


def test_parent_breadth_first_search_steps() -> None:
    question = q("parent", "v4")

    def expand(v: str) -> Ask:
        return Ask((q("root", v), q("neighbors", v)))

    assert TASK.expert_fan_out(CTX, question) == expand("v4")
    facts = [
        ("v4", None, ["v1", "v3"]),
        ("v1", None, ["v2", "v4"]),
        ("v3", None, ["v0", "v4"]),
        ("v0", None, ["v3"]),
        ("v2", 5, ["v1"]),
    ]
    t: list[tuple[dict[str, str], object]] = []
    # BFS order from v4 by (distance, number): v1, v3 at 1; then v0, v2 at 2
    for (v, root, nbrs), nxt in zip(facts, ["v1", "v3", "v0", "v2"], strict=False):
        t += [(q("root", v), root), (q("neighbors", v), nbrs)]
        assert TASK.expert_fan_in(CTX, question, t) == expand(nxt)
    t += [(q("root", "v2"), 5), (q("neighbors", "v2"), ["v1"])]
    assert TASK.expert_fan_in(CTX, question, t) == Answer("v1")
    # a root is its own parent; a lone neighbour may come back as a bare name
    assert TASK.expert_fan_in(
        CTX, q("parent", "v2"), [(q("root", "v2"), 5), (q("neighbors", "v2"), "v1")]
    ) == Answer("v2")
    t1 = [(q("root", "v0"), None), (q("neighbors", "v0"), "v3")]
    assert TASK.expert_fan_in(CTX, q("parent", "v0"), t1) == expand("v3")
    # the whole tree explored and no root found: the subanswers were wrong
    no_root = [(q("root", "v0"), None), (q("neighbors", "v0"), [])]
    assert TASK.expert_fan_in(CTX, q("parent", "v0"), no_root) == Answer(UNKNOWN)


def test_parent_unknown_on_malformed_subanswers() -> None:
    question = q("parent", "v4")
    good_root, good_nbrs = (q("root", "v4"), None), (q("neighbors", "v4"), ["v1", "v3"])
    for bad in ["v1", 10, -1, [None], {"a": 1}, "?", 2.5]:
        assert TASK.expert_fan_in(CTX, question, [(q("root", "v4"), bad), good_nbrs]) == Answer(UNKNOWN)
    for bad in [["v1", "v1"], ["v4"], ["v9"], ["x"], [1, 2], None, 3, "?", "v1 v3", {"v1": 1}, [["v1"]]]:
        assert TASK.expert_fan_in(CTX, question, [good_root, (q("neighbors", "v4"), bad)]) == Answer(UNKNOWN)


def test_text_round_trip_and_errors() -> None:
    for question in [q(k, "v7") for k in ("value", "parent", "depth", "root", "neighbors")] + [
        {"kind": "edge", "a": "v1", "b": "v2"}
    ]:
        assert TASK.parse_question(TASK.question_text(question), CTX) == question
    assert TASK.question_text({"kind": "edge", "a": "v1", "b": "v2"}) == "edge v1 v2"
    with pytest.raises(ParseError, match=r"unknown variable 'v9': use v0\.\.v7"):
        TASK.parse_question("value v9", CTX)
    with pytest.raises(ParseError, match="unknown variable 'v07'"):
        TASK.parse_question("depth v07", CTX)
    with pytest.raises(ParseError, match="unknown question kind 'sum'"):
        TASK.parse_question("sum v1", CTX)
    with pytest.raises(ParseError, match="'value' takes one variable"):
        TASK.parse_question("value v1 v2", CTX)
    with pytest.raises(ParseError, match="'parent' takes one variable"):
        TASK.parse_question("parent", CTX)
    with pytest.raises(ParseError, match="'edge' takes two variables"):
        TASK.parse_question("edge v1", CTX)
    with pytest.raises(ParseError, match="two different variables"):
        TASK.parse_question("edge v1 v1", CTX)
    with pytest.raises(ParseError, match="empty question"):
        TASK.parse_question("  ", CTX)
    with pytest.raises(ParseError, match="unknown question kind"):
        TASK.check_question({"kind": "size", "var": "v1"}, CTX)
    with pytest.raises(ParseError, match="a value question is"):
        TASK.check_question({"kind": "value", "var": "v1", "k": 2}, CTX)


def test_answers() -> None:
    assert TASK.parse_answer("4", q("value", "v0"), CTX) == 4
    assert TASK.parse_answer("?", q("value", "v0"), CTX) == UNKNOWN
    assert TASK.parse_answer("v3", q("parent", "v0"), CTX) == "v3"
    assert TASK.parse_answer("none", q("root", "v0"), CTX) is None
    assert TASK.parse_answer("5", q("root", "v2"), CTX) == 5
    assert TASK.parse_answer("v1 v3", q("neighbors", "v4"), CTX) == ["v1", "v3"]
    assert TASK.parse_answer("v3", q("neighbors", "v0"), CTX) == ["v3"]
    assert TASK.parse_answer("[]", q("neighbors", "v0"), CTX) == []
    assert TASK.parse_answer("?", q("neighbors", "v0"), CTX) == UNKNOWN
    assert TASK.parse_answer("yes", {"kind": "edge", "a": "v1", "b": "v2"}, CTX) is True
    for neighbors in ([], ["v3"], ["v1", "v3"]):
        assert TASK.parse_answer(
            TASK.answer_text(q("neighbors", "v4"), neighbors), q("neighbors", "v4"), CTX
        ) == (neighbors)
    bad = [
        ("12", q("value", "v0")),
        ("v9", q("parent", "v0")),
        ("8", q("depth", "v0")),
        ("none", q("value", "v0")),
        ("v4", q("neighbors", "v4")),
        ("v1 v1", q("neighbors", "v4")),
        ("yes", q("root", "v0")),
        ("v1", {"kind": "edge", "a": "v1", "b": "v2"}),
    ]
    for text, question in bad:
        with pytest.raises(ParseError, match="not a valid answer"):
            TASK.parse_answer(text, question, CTX)
    with pytest.raises(ParseError, match="empty answer"):
        TASK.parse_answer("  ", q("value", "v0"), CTX)


def test_validate_context_rejects_corruption() -> None:
    def broken(**change: object) -> dict[str, object]:
        return {**CTX, **change}

    cases = [
        (broken(edges=[*CTX["edges"], ["v0", "v2"]]), r"'edges': v0–v2 closes a cycle"),
        (broken(edges=[*CTX["edges"], ["v2", "v1"]]), "closes a cycle"),
        (
            broken(roots={"v2": 5, "v7": 7, "v0": 1}),
            r"'roots': the tree containing v0 has 2 roots \(v0, v2\)",
        ),
        (broken(roots={"v2": 5}), "'roots': the tree containing v5 has no root"),
        (broken(roots={"v2": 5, "x7": 7}), "'roots': 'x7' is not a variable name"),
        (broken(roots={"v2": 5, "v7": 10}), "'roots': the value of v7"),
        (broken(edges=[*CTX["edges"], ["v3"]]), "'edges': .* is not a pair"),
        (broken(edges=[*CTX["edges"], ["v3", "v3"]]), "joins a variable to itself"),
        ({"roots": {"v0": 1}, "edges": [["v0", "v1"]]}, "a context has 8..64 variables"),
        ({"roots": {"v2": 5}}, "context needs exactly 'roots' and 'edges'"),
        (broken(edges=[["v0", "v1"], ["v1", "v2"]]), "'roots': the tree containing v3 has no root"),
    ]
    for ctx, message in cases:
        with pytest.raises(ParseError, match=message):
            TASK.validate_context(ctx)


def test_render_and_tokens() -> None:
    text = TASK.render_context(CTX)
    assert text.splitlines()[:3] == ["root v2 = 5", "  v0: v3", "  v1: v2 v4"]
    assert "root v7 = 7" in text
    tokens = TASK.context_tokens(CTX)
    assert tokens[:8] == ["v0", "-", "v3", "|", "v1", "-", "v2", "v4"]
    assert tokens[9:13] == ["v2", "5", "v1", "|"]
    vocabulary = {
        t for s in range(3) for t in TASK.context_tokens(TASK.generate_context(64, np.random.default_rng(s)))
    }
    assert len(vocabulary) <= 64 + 10 + 2
