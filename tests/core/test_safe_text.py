"""Text from a file or a person never reaches the terminal raw (issue 21, item 3): control
sequences and bidirectional overrides are shown as escapes in the label screen, `ida trees show`,
audits and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ida_cli.label.screen import Progress, View, render
from ida_cli.text import visible, visible_lines
from tests.helpers import Run

TITLE = "\x1b]2;pwned\x07"  # OSC 2: retitle the terminal
RED = "\x1b[41m"
RLO = "\u202e"


def test_visible_writes_controls_and_bidi_as_escapes() -> None:
    assert (
        visible(f"a{TITLE}b{RED}c\nd\te{RLO}f\x7f") == "a\\x1b]2;pwned\\x07b\\x1b[41mc\\nd\\te\\u202ef\\x7f"
    )
    assert visible("plain ü → σ(x) ✓") == "plain ü → σ(x) ✓"
    assert visible_lines(f"one{RED}\ntwo") == "one\\x1b[41m\ntwo"


def test_the_label_screen_shows_a_hostile_question_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the screen's own styles off: any ESC left is the data's
    view = View(
        title="ida label",
        progress=Progress(),
        breadcrumb=[f"q{TITLE}"],
        context=[f"ctx{RED}", "line\tx"],
        kind="fan_out",
        question=f"what{TITLE}{RLO}is\nthis",
        transcript=[(f"sq{RED}", "a\x07", "human:eve\x1b[2J")],
        suggestion=f"s{RED}",
        message=f"m{TITLE}",
    )
    screen = render(view, 100, 30)
    assert "\x1b" not in screen and "\x07" not in screen and RLO not in screen
    assert "what\\x1b]2;pwned\\x07\\u202eis\\nthis" in screen
    assert "human:eve\\x1b[2J" in screen


def test_trees_show_and_errors_show_escapes(ida: Run, tmp_path: Path) -> None:
    doc = {
        "id": 7,
        "task": "user",
        "context": None,
        "root": {
            "id": 1,
            "question": f"hello{TITLE}{RED}",
            "answer": f"yes{RLO}",
            "by": "human:mallory\x1b[2J",
            "score": None,
            "step": 0,
            "recursed": True,
            "children": [],
        },
    }
    f = tmp_path / "t.json"
    f.write_text(json.dumps(doc))
    assert ida("trees", "import", str(f)).code == 0
    shown = ida("trees", "show", "7")
    assert shown.code == 0
    assert "\x1b" not in shown.stdout and RLO not in shown.stdout
    assert "hello\\x1b]2;pwned\\x07\\x1b[41m" in shown.stdout and "yes\\u202e" in shown.stdout
    r = ida("questions", "generate", "--task", f"x{TITLE}", "--size", "8", "--count", "1", "--seed", "1")
    assert r.code == 2 and "\x1b" not in r.stderr and "x\\x1b]2;pwned\\x07" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
