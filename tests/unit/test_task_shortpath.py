import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ida_cli.errors import ParseError
from ida_cli.tasks import get_task
from ida_cli.tasks.base import expert_solve
from ida_cli.vocabulary import UNKNOWN, Answer, Ask

TASK = get_task("shortpath")

# 0 fans out to 1, 2, 3, which all lead to 4 and then 5; 6 and 7 form a cycle nothing else reaches
SMALL = {"n": 8, "edges": [[0, 1], [0, 2], [0, 3], [1, 4], [2, 4], [3, 4], [4, 5], [6, 7], [7, 6]]}
# a chain 0 → 1 → … → 14 that runs past the clip, with a way back and a vertex 15 that nothing reaches
CHAIN = {"n": 16, "edges": [*([i, i + 1] for i in range(14)), [14, 0], [2, 0], [15, 3]]}


def dist(a: int, b: int) -> dict:
    return {"kind": "dist", "from": a, "to": b}


def nxt(a: int, b: int) -> dict:
    return {"kind": "next", "from": a, "to": b}


def hops(a: int, b: int) -> dict:
    return {"kind": "hops", "from": a, "to": b}


def out(a: int) -> dict:
    return {"kind": "out", "from": a}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.sampled_from([8, 16, 64]))
def test_scripted_hch_reaches_truth(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    ctx = TASK.generate_context(size, rng)
    TASK.validate_context(ctx)
    assert len(ctx["edges"]) == 2 * size
    for kind in ("dist", "next"):
        qs = [q for q in TASK.generate_questions(ctx, 12, rng) if q["kind"] == kind][:2]
        for q in qs:
            TASK.check_question(q, ctx)
            assert q["from"] != q["to"]
            answer, nodes = expert_solve(TASK, ctx, q)
            assert answer == TASK.truth(ctx, q)
            assert nodes > 1
            sub = hops(q["from"], q["to"])
            assert expert_solve(TASK, ctx, sub)[0] == TASK.truth(ctx, sub)


@pytest.mark.parametrize("ctx", [SMALL, CHAIN])
def test_scripted_hch_on_every_pair_and_kind(ctx: dict) -> None:
    TASK.validate_context(ctx)
    n = ctx["n"]
    for a in range(n):
        assert expert_solve(TASK, ctx, out(a))[0] == TASK.truth(ctx, out(a))
        for b in range(n):
            for q in (dist(a, b), nxt(a, b), hops(a, b), {"kind": "edge", "from": a, "to": b}):
                assert expert_solve(TASK, ctx, q)[0] == TASK.truth(ctx, q), q


def test_truth_by_hand() -> None:
    assert TASK.truth(CHAIN, dist(0, 14)) == 12  # 14 edges, clipped
    assert TASK.truth(CHAIN, hops(0, 14)) == 14
    assert TASK.truth(CHAIN, nxt(0, 14)) == 1
    assert TASK.truth(CHAIN, nxt(1, 14)) == 2
    assert TASK.truth(CHAIN, dist(3, 14)) == 11
    assert TASK.truth(CHAIN, dist(14, 2)) == 3
    assert TASK.truth(CHAIN, nxt(2, 1)) == 0
    assert TASK.truth(CHAIN, dist(0, 15)) == "inf"
    assert TASK.truth(CHAIN, hops(0, 15)) == "inf"
    assert TASK.truth(CHAIN, nxt(0, 15)) is None
    assert TASK.truth(CHAIN, dist(4, 4)) == 0
    assert TASK.truth(CHAIN, nxt(4, 4)) is None
    assert TASK.truth(SMALL, nxt(0, 5)) == 1  # 1, 2 and 3 tie: the smallest
    assert TASK.truth(SMALL, out(0)) == [1, 2, 3]
    assert TASK.truth(SMALL, out(5)) == []
    assert TASK.truth(SMALL, {"kind": "edge", "from": 0, "to": 2}) is True
    assert TASK.truth(SMALL, {"kind": "edge", "from": 2, "to": 0}) is False
    assert expert_solve(TASK, CHAIN, dist(0, 14))[0] == 12
    assert expert_solve(TASK, CHAIN, nxt(0, 14))[0] == 1
    assert expert_solve(TASK, CHAIN, dist(0, 15))[0] == "inf"
    assert expert_solve(TASK, CHAIN, nxt(0, 15))[0] is None


def test_primitives_and_trivial_questions() -> None:
    assert TASK.is_primitive(SMALL, out(0))
    assert TASK.is_primitive(SMALL, {"kind": "edge", "from": 0, "to": 1})
    assert not any(TASK.is_primitive(SMALL, q) for q in (dist(0, 5), nxt(0, 5), hops(0, 5)))
    assert TASK.expert_fan_out(SMALL, out(0)) == Answer([1, 2, 3])
    assert TASK.expert_fan_out(SMALL, {"kind": "edge", "from": 0, "to": 1}) == Answer(True)
    assert TASK.expert_fan_out(SMALL, dist(3, 3)) == Answer(0)
    assert TASK.expert_fan_out(SMALL, nxt(3, 3)) == Answer(None)
    assert TASK.expert_fan_out(SMALL, hops(3, 3)) == Answer(0)


def test_dist_steps() -> None:
    q = dist(0, 5)
    assert TASK.expert_fan_out(SMALL, q) == Ask((nxt(0, 5),))
    assert TASK.expert_fan_in(SMALL, q, [(nxt(0, 5), 1)]) == Ask((dist(1, 5),))
    assert TASK.expert_fan_in(SMALL, q, [(nxt(0, 5), 1), (dist(1, 5), 2)]) == Answer(3)
    assert TASK.expert_fan_in(SMALL, q, [(nxt(0, 5), 1), (dist(1, 5), 12)]) == Answer(12)
    assert TASK.expert_fan_in(SMALL, q, [(nxt(0, 5), None)]) == Answer("inf")
    for bad in ("banana", "inf", 9, -1, [1], True, 0):  # 0 is the question's own vertex
        assert TASK.expert_fan_in(SMALL, q, [(nxt(0, 5), bad)]) == Answer(UNKNOWN), bad
    for bad in ("inf", None, 13, "2", [2], UNKNOWN):
        assert TASK.expert_fan_in(SMALL, q, [(nxt(0, 5), 1), (dist(1, 5), bad)]) == Answer(UNKNOWN), bad


def test_next_steps() -> None:
    q = nxt(0, 5)
    t1 = [(out(0), [1, 2, 3])]
    assert TASK.expert_fan_out(SMALL, q) == Ask((out(0),))
    assert TASK.expert_fan_in(SMALL, q, t1) == Ask((hops(1, 5), hops(2, 5)))
    t2 = [*t1, (hops(1, 5), "inf"), (hops(2, 5), 2)]
    assert TASK.expert_fan_in(SMALL, q, t2) == Ask((hops(3, 5),))
    assert TASK.expert_fan_in(SMALL, q, [*t2, (hops(3, 5), 2)]) == Answer(2)  # tie: smallest number
    assert TASK.expert_fan_in(SMALL, q, [*t2, (hops(3, 5), 1)]) == Answer(3)  # closest wins
    none_finite = [*t1, (hops(1, 5), "inf"), (hops(2, 5), "inf"), (hops(3, 5), "inf")]
    assert TASK.expert_fan_in(SMALL, q, none_finite) == Answer(None)
    assert TASK.expert_fan_in(SMALL, q, [(out(0), [])]) == Answer(None)
    for bad in ("1 2 3", None, 3, [3, 1], [1, 1], [1, 99], [UNKNOWN], UNKNOWN):
        assert TASK.expert_fan_in(SMALL, q, [(out(0), bad)]) == Answer(UNKNOWN), bad
    for bad in (None, -1, 8, "far", [2], False):
        assert TASK.expert_fan_in(SMALL, q, [*t1, (hops(1, 5), bad), (hops(2, 5), 2)]) == Answer(UNKNOWN)


def test_hops_breadth_first_steps() -> None:
    q = hops(0, 5)
    assert TASK.expert_fan_out(SMALL, q) == Ask((out(0),))
    t = [(out(0), [1, 2, 3])]
    assert TASK.expert_fan_in(SMALL, q, t) == Ask((out(1), out(2)))
    t = [*t, (out(1), [4]), (out(2), [4])]
    # 4 (level 2) waits although there is room for two: 3 (level 1) is expanded first, alone
    assert TASK.expert_fan_in(SMALL, q, t) == Ask((out(3),))
    t = [*t, (out(3), [4])]
    assert TASK.expert_fan_in(SMALL, q, t) == Ask((out(4),))
    assert TASK.expert_fan_in(SMALL, q, [*t, (out(4), [5])]) == Answer(3)
    # found on discovery, before its own out-list is asked
    assert TASK.expert_fan_in(SMALL, hops(0, 4), [(out(0), [1, 2, 3]), (out(1), [4]), (out(2), [4])]) == (
        Answer(2)
    )
    assert TASK.expert_fan_in(SMALL, hops(5, 0), [(out(5), [])]) == Answer("inf")
    assert TASK.expert_fan_in(SMALL, hops(6, 0), [(out(6), [7])]) == Ask((out(7),))
    assert TASK.expert_fan_in(SMALL, hops(6, 0), [(out(6), [7]), (out(7), [6])]) == Answer("inf")
    for bad in (UNKNOWN, None, 3, [1, 99], [2, 1], "1 2"):
        assert TASK.expert_fan_in(SMALL, q, [(out(0), bad)]) == Answer(UNKNOWN), bad
    assert TASK.expert_fan_in(SMALL, q, [(out(0), [1, 2, 3]), (out(1), "x"), (out(2), [4])]) == Answer(
        UNKNOWN
    )


def test_generation_and_rendering() -> None:
    rng = np.random.default_rng(7)
    ctx = TASK.generate_context(8, rng)
    edges = [tuple(e) for e in ctx["edges"]]
    assert ctx["n"] == 8 and len(set(edges)) == 16 and all(a != b for a, b in edges)
    for q in TASK.generate_questions(ctx, 20, rng):
        assert q["kind"] in ("dist", "next") and q["from"] != q["to"]
    text = TASK.render_context(SMALL)
    assert text.splitlines()[0] == "0 → 1 2 3"
    assert text.splitlines()[5] == "5 → (none)"
    tokens = TASK.context_tokens(SMALL)
    assert tokens[:6] == ["1", "2", "3", "|", "4", "|"]
    assert tokens.count("|") == 8


def test_text_round_trip_and_errors() -> None:
    for q in (dist(3, 5), nxt(3, 5), hops(3, 5), out(3), {"kind": "edge", "from": 3, "to": 5}):
        assert TASK.parse_question(TASK.question_text(q), SMALL) == q
    assert TASK.question_text(dist(3, 5)) == "dist 3 5"
    assert TASK.question_text(out(3)) == "out 3"
    with pytest.raises(ParseError, match=r"'to' must be a vertex 0\.\.7"):
        TASK.parse_question("dist 3 8", SMALL)
    with pytest.raises(ParseError, match=r"'from' must be a vertex 0\.\.7"):
        TASK.parse_question("out -1", SMALL)
    with pytest.raises(ParseError, match="unknown question kind 'walk'"):
        TASK.parse_question("walk 1 2", SMALL)
    with pytest.raises(ParseError, match="a next question is 'next A B'"):
        TASK.parse_question("next 3", SMALL)
    with pytest.raises(ParseError, match="an out question is 'out A'"):
        TASK.parse_question("out 1 2", SMALL)
    with pytest.raises(ParseError, match="empty question"):
        TASK.parse_question("   ", SMALL)
    with pytest.raises(ParseError, match="A must be an integer"):
        TASK.parse_question("hops x 2", SMALL)
    with pytest.raises(ParseError, match="unknown question kind 'walk'"):
        TASK.check_question({"kind": "walk", "from": 1, "to": 2}, SMALL)
    with pytest.raises(ParseError, match="an out question is"):
        TASK.check_question({"kind": "out", "from": 1, "to": 2}, SMALL)
    with pytest.raises(ParseError, match="a dist question is"):
        TASK.check_question({"kind": "dist", "from": 1}, SMALL)
    with pytest.raises(ParseError, match="'from' must be a vertex"):
        TASK.check_question({"kind": "hops", "from": True, "to": 2}, SMALL)
    with pytest.raises(ParseError, match="JSON object"):
        TASK.check_question("dist 1 2", SMALL)


def test_answers_parse_and_errors() -> None:
    assert TASK.parse_answer("inf", dist(0, 6), SMALL) == "inf"
    assert TASK.parse_answer("12", dist(0, 5), SMALL) == 12
    assert TASK.parse_answer("none", nxt(0, 6), SMALL) is None
    assert TASK.parse_answer("3", nxt(0, 5), SMALL) == 3
    assert TASK.parse_answer("1 2 3", out(0), SMALL) == [1, 2, 3]
    assert TASK.parse_answer("4", out(1), SMALL) == [4]  # one out-neighbour is still a list
    assert TASK.parse_answer("[]", out(5), SMALL) == []
    assert TASK.parse_answer("yes", {"kind": "edge", "from": 0, "to": 1}, SMALL) is True
    assert TASK.parse_answer("?", out(0), SMALL) == UNKNOWN
    for q, ans in ((out(1), [4]), (out(5), []), (nxt(0, 6), None), (dist(0, 6), "inf")):
        assert TASK.parse_answer(TASK.answer_text(q, ans), q, SMALL) == ans
    with pytest.raises(ParseError, match="not a valid answer to 'dist 0 5'"):
        TASK.parse_answer("13", dist(0, 5), SMALL)
    with pytest.raises(ParseError, match="not a valid answer to 'hops 0 5'"):
        TASK.parse_answer("8", hops(0, 5), SMALL)
    with pytest.raises(ParseError, match="a vertex, or none"):
        TASK.parse_answer("9", nxt(0, 5), SMALL)
    with pytest.raises(ParseError, match="increasing order"):
        TASK.parse_answer("3 1", out(0), SMALL)
    with pytest.raises(ParseError, match="increasing order"):
        TASK.parse_answer("9", out(0), SMALL)
    with pytest.raises(ParseError, match="yes or no"):
        TASK.parse_answer("1", {"kind": "edge", "from": 0, "to": 1}, SMALL)
    with pytest.raises(ParseError, match="empty answer"):
        TASK.parse_answer("  ", out(0), SMALL)


def test_validate_context_names_the_field() -> None:
    TASK.validate_context(SMALL)
    bad_cases = [
        ({"edges": []}, "'n'"),
        ({"n": 8}, "'edges'"),
        ({"n": 5, "edges": []}, "'n' must be an integer between 8 and 64"),
        ({"n": "8", "edges": []}, "'n' must be an integer"),
        ({"n": 8, "edges": "0 1"}, "'edges' must be a list"),
        ({"n": 8, "edges": [[0, 1, 2]]}, "'edges' must hold"),
        ({"n": 8, "edges": [[0, "1"]]}, "'edges' must hold"),
        ({"n": 8, "edges": [[0, 8]]}, r"outside 0\.\.7"),
        ({"n": 8, "edges": [[3, 3]]}, "self-loop"),
        ({"n": 8, "edges": [[0, 1], [0, 1]]}, "twice"),
    ]
    for ctx, message in bad_cases:
        with pytest.raises(ParseError, match=message):
            TASK.validate_context(ctx)
