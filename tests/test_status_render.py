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
