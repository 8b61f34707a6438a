"""Every bad option is one line on stderr, exit code 2, and the database as it was: no version row,
no version number used, no experiment row (issue 21, items 4-6)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.helpers import TINY, Run, setup

EXPERIMENT = ["experiment", "--task", "wildcard"]


def rows(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


MODEL = {
    "--device cuda": (["--device", "cuda"], "--device cuda: this machine has no GPU that torch can use"),
    "--device tpu": (["--device", "tpu"], "unknown device 'tpu': use --device auto, cpu or cuda"),
    "--batch 0": (["--batch", "0"], "--batch must be at least 1, not 0"),
    "--width 0": (["--width", "0"], "--width must be at least 4, not 0"),
    "--width 3": (["--width", "3"], "--width must be at least 4, not 3"),
    "--width 30": (["--width", "30"], "--width must be a multiple of 4 (the attention heads), not 30"),
    "--layers 0": (["--layers", "0"], "--layers must be at least 1, not 0"),
    "--lr -1": (["--lr", "-1"], "--lr must be greater than 0, not -1.0"),
    "--lr nan": (["--lr", "nan"], "--lr must be greater than 0, not nan"),
    "--minutes nan": (["--minutes", "nan"], "--minutes must be greater than 0, not nan"),
    "--minutes -1": (["--minutes", "-1"], "--minutes must be greater than 0, not -1.0"),
    "--max-steps -1": (["--max-steps", "-1"], "--max-steps must be at least 0 (0: no limit), not -1"),
    "--seed -1": (["--seed", "-1"], "--seed must be between 0 and 4294967295, not -1"),
}


def test_train_model_refuses_bad_options_before_writing(ida: Run, db: Path) -> None:
    import torch

    setup(ida, count=40)
    for name, (args, message) in MODEL.items():
        if name == "--device cuda" and torch.cuda.is_available():
            continue
        r = ida("train", "model", "--supervised", "--max-steps", "5", *args)
        assert (r.code, r.stdout) == (2, ""), name
        assert r.stderr.startswith(f"error: {message}") and r.stderr.count("\n") == 1, (name, r.stderr)
    assert rows(db, "versions") == 0
    assert ida("train", "model", "--supervised", *TINY, "--json").json()["version"] == 1  # none used up


ADVERSARY = {
    "--batch 0": (["--batch", "0"], "--batch must be at least 1, not 0"),
    "--minutes -1": (["--minutes", "-1"], "--minutes must be greater than 0, not -1.0"),
    "--width 6": (["--width", "6"], "--width must be a multiple of 4 (the attention heads), not 6"),
    "--lr inf": (["--lr", "inf"], "--lr must be a finite number, not inf"),
}


def test_train_adversary_refuses_bad_options_before_writing(ida: Run, db: Path) -> None:
    setup(ida, count=40)
    for name, (args, message) in ADVERSARY.items():
        r = ida("train", "adversary", *args)
        assert (r.code, r.stderr) == (2, f"error: {message}\n"), name
    assert rows(db, "versions") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "-1"],
            "--seed must be between 0 and 4294967295, not -1",
        ),
        (["round", "--seed", "-1"], "--seed must be between 0 and 4294967295, not -1"),
        (["round", "--temperature", "inf"], "--temperature must be a finite number"),
        (["round", "--temperature", "nan"], "--temperature must be greater than 0"),
        (
            [*EXPERIMENT, "--strategy", "full", "--budget", "50", "--seed", "-1"],
            "--seed must be between 0 and 4294967295, not -1",
        ),
        (
            [
                "experiment",
                "--task",
                "wildcard",
                "--strategy",
                "adversary",
                "--budget",
                "50",
                "--alpha",
                "-1",
            ],
            "--alpha applies to --strategy bernoulli or uncertainty, not adversary",
        ),
        (
            [*EXPERIMENT, "--strategy", "full", "--budget", "500", "--device", "tpu"],
            "unknown device 'tpu': use --device auto, cpu or cuda",
        ),
    ],
)
def test_commands_refuse_bad_options_before_writing(
    ida: Run, db: Path, args: list[str], message: str
) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "8", "--seed", "1")
    before = {t: rows(db, t) for t in ("questions", "rounds", "trees", "experiments")}
    r = ida(*args)
    assert r.code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {message}") and r.stderr.count("\n") == 1, r.stderr
    assert {t: rows(db, t) for t in before} == before


def test_db_and_environment_errors_are_one_line(ida: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    r = ida("--db", "", "status")
    assert (r.code, r.stderr) == (
        2,
        "error: --db is empty: give a database file or a postgresql:// URL (or unset IDA_DB)\n",
    )
    monkeypatch.setenv("IDA_LOCK_TIMEOUT", "abc")
    r = ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    assert (r.code, r.stderr) == (2, "error: IDA_LOCK_TIMEOUT must be a number of seconds, not 'abc'\n")


def node(nid: int, by: str = "scripted", children: list[dict] | None = None, step: int = 0) -> dict:  # type: ignore[type-arg]
    return {
        "id": nid,
        "question": {"pattern": "a*a"},
        "answer": 0,
        "by": by,
        "score": None,
        "step": step,
        "recursed": True,
        "children": children or [],
    }


CONTEXT = {"values": {a + b + c: 1 for a in "ab" for b in "ab" for c in "ab"}}


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"id": 1, "levels": 3000}, "is nested too deeply to be an ida tree"),
        ({"id": 1, "levels": 350}, "the tree is more than 300 levels deep: not an ida tree"),
        ({"id": 2**70, "root": node(1)}, "field 'id' must be an integer from 0 to 9223372036854775807"),
        ({"id": 1, "root": node(-5)}, "root field 'id' must be an integer from 0 to 9223372036854775807"),
        (
            {"id": 1, "root": node(1, by="alien")},
            "root field 'by' must be 'scripted', 'model' or 'human:NAME'",
        ),
        (
            {"id": 1, "root": node(1, children=[node(2), node(3), node(4)])},
            "root asks 3 subquestions at step 0: a step asks one or two",
        ),
    ],
    ids=["3000 levels", "350 levels", "id 2^70", "negative node id", "by alien", "three children in a step"],
)
def test_trees_import_refuses_what_is_not_an_ida_tree(
    ida: Run,
    db: Path,
    tmp_path: Path,
    tree: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    f = tmp_path / "t.json"
    levels = tree.pop("levels", 0)
    text = json.dumps({"task": "wildcard", "context": CONTEXT, **tree})
    if levels:  # too deep for json.dumps: nest the text by hand
        one = json.dumps(node(0))[:-3]  # '{... "children": ' without the '[]}'
        text = text[:-1] + ', "root": ' + "".join(f"{one}[" for _ in range(levels)) + "]}" * levels + "}"
    f.write_text(text)
    r = ida("trees", "import", str(f))
    assert r.code == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


def test_round_oracle_human_points_at_ida_label(ida: Run) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    r = ida("round", "--oracle", "human")
    assert (r.code, r.stderr) == (
        2,
        "error: a round with a person as the overseer is `ida label`: run `ida label` at a terminal "
        "(`ida round` amplifies with the scripted expert)\n",
    )
    assert "human" not in ida("round", "--help").stdout.split("--strategy")[0]
