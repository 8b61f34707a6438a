"""`ida status` text output: each annotator's progress (rendered at a fixed width)."""

from __future__ import annotations

from rich.console import Console

from ida_cli.cli.render import status_panel

STATUS = {
    "db": "p.duckdb",
    "schema_version": 4,
    "bytes": 1_000_000,
    "counts": {"trees": 3, "nodes": 30, "rounds": 1, "audits": 0},
    "overseer_calls": 12,
    "primitive_calls": 3,
    "model_calls": 0,
    "amplified_accuracy": None,
    "versions": {},
    "questions": [],
    "last_round": None,
    "overseers": [],
    "metrics": [],
    "annotators": [
        {
            "annotator": "ann",
            "done": 4,
            "skipped": 1,
            "open": 1,
            "expired": 0,
            "steps": 17,
            "median_seconds": 2.5,
            "live": True,
            "last_seen": None,
        },
        {
            "annotator": "bob",
            "done": 2,
            "skipped": 0,
            "open": 0,
            "expired": 1,
            "steps": 6,
            "median_seconds": None,
            "live": False,
            "last_seen": None,
        },
    ],
}


def test_status_shows_each_annotators_progress() -> None:
    console = Console(width=100, record=True, color_system=None)
    console.print(status_panel(STATUS))
    lines = [[w for w in ln.split() if w not in "│┃"] for ln in console.export_text().splitlines()]
    assert ["annotator", "done", "skipped", "open", "expired", "steps", "median", "s", "live"] in lines
    assert ["ann", "4", "1", "1", "0", "17", "2.500", "yes"] in lines
    assert ["bob", "2", "0", "0", "1", "6", "-", "no"] in lines


ROUND = {
    "round": 3,
    "task": "wildcard",
    "strategy": "adversary",
    "oracle": "scripted",
    "questions": 38,
    "overseer_calls": 90,
    "primitive_calls": 40,
    "model_calls": 120,
    "nodes": 300,
    "recursions_per_step": 1.0,
    "accuracy": 0.95,
    "correct": 38,
    "with_truth": 40,
    "seconds": 2.0,
    "nodes_per_second": 150.0,
}


def test_a_round_says_how_many_picked_questions_were_taken_meanwhile() -> None:
    from ida_cli.cli.render import round_table

    def text(doc: dict[str, object]) -> str:
        console = Console(width=120, record=True, color_system=None)
        console.print(round_table(doc))
        return " ".join(w for w in console.export_text().split() if w not in "│┃")

    assert "questions 38 overseer calls 90 (40 primitive)" in text(ROUND)
    taken = text({**ROUND, "taken_meanwhile": 2})
    assert "questions 38 (2 picked were taken up by a person or another round meanwhile)" in taken
