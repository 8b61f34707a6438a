from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl

from tests.helpers import ROOT, Run


def count(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_init_is_idempotent_and_tasks_lists_all(ida: Run, db: Path) -> None:
    r = ida("init", "--task", "wildcard", "--size", "8", "--json")
    assert r.code == 0 and r.json()["created"] is True
    assert (
        ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "5", "--seed", "1").code
        == 0
    )
    r = ida("init", "--json")
    assert r.json()["created"] is False and r.json()["settings"]["task"] == "wildcard"
    assert count(db, "questions") == 5
    names = [t["name"] for t in ida("tasks", "--json").json()]
    assert names == ["permutation", "assignments", "wildcard", "unionfind", "shortpath", "user"]


def test_generate_json_and_eval_contexts_never_shared(ida: Run, db: Path) -> None:
    r = ida(
        "questions",
        "generate",
        "--task",
        "wildcard",
        "--size",
        "8",
        "--count",
        "400",
        "--seed",
        "3",
        "--json",
    )
    assert r.code == 0, r.stderr
    doc = r.json()
    assert (doc["count"], doc["contexts"], doc["first_id"], doc["last_id"]) == (400, 50, 1, 400)
    # wildcard at size 8 has only 256 contexts: collisions with train must be redrawn for eval
    r = ida(
        "questions",
        "generate",
        "--task",
        "wildcard",
        "--size",
        "8",
        "--count",
        "400",
        "--seed",
        "3",
        "--split",
        "eval",
        "--per-context",
        "4",
        "--json",
    )
    assert r.code == 0, r.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        shared = con.execute("""SELECT count(*) FROM contexts a JOIN contexts b ON a.digest = b.digest
                                WHERE a.split = 'train' AND b.split = 'eval'""").fetchone()[0]
        per_ctx = con.execute(
            "SELECT max(c) FROM (SELECT count(*) c FROM questions GROUP BY context_id)"
        ).fetchone()
    assert shared == 0
    assert per_ctx[0] <= 8


def test_generate_bad_input(ida: Run, db: Path) -> None:
    r = ida("questions", "generate", "--task", "sorting", "--size", "8", "--count", "5", "--seed", "1")
    assert r.code == 2
    assert r.stderr == (
        "error: unknown task 'sorting': use one of permutation, assignments, wildcard, unionfind, "
        "shortpath, user (see `ida tasks`)\n"
    )
    r = ida("questions", "generate", "--task", "permutation", "--size", "65", "--count", "5", "--seed", "1")
    assert r.code == 2
    assert r.stderr == "error: size 65 is out of range for task permutation: use --size between 8 and 64\n"
    r = ida(
        "questions",
        "generate",
        "--task",
        "permutation",
        "--size",
        "8",
        "--count",
        "5",
        "--seed",
        "1",
        "--split",
        "test",
    )
    assert r.code == 2 and "unknown split 'test'" in r.stderr
    assert not db.exists()  # nothing was created by a refused command


def test_import_user_questions_and_export_round_trip(ida: Run, db: Path, tmp_path: Path) -> None:
    r = ida("questions", "import", str(ROOT / "data" / "user_questions.jsonl"), "--json")
    assert r.code == 0, r.stderr
    assert r.json()["count"] == 6 and r.json()["tasks"] == {"user": 6}
    ida("questions", "generate", "--task", "unionfind", "--size", "8", "--count", "10", "--seed", "1")
    for fmt in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"q.{fmt}"
        r = ida("questions", "export", "--format", fmt, "-o", str(out), "--json")
        assert r.code == 0 and r.json()["rows"] == 16
    rows = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert set(rows[0]) == {"id", "task", "size", "split", "context", "question", "truth"}
    assert rows[-1]["task"] == "unionfind" and isinstance(rows[-1]["context"], dict)
    assert [r["split"] for r in rows[:6]].count("eval") == 1
    frame = pl.read_parquet(tmp_path / "q.parquet")
    assert frame.columns == ["id", "task", "size", "split", "context", "question", "truth"]
    # exported files import again, each format, into a fresh database
    for fmt in ("jsonl", "csv", "parquet"):
        r = ida(
            "--db",
            str(tmp_path / f"again-{fmt}.duckdb"),
            "questions",
            "import",
            str(tmp_path / f"q.{fmt}"),
            "--json",
        )
        assert r.code == 0, (fmt, r.stderr)
        assert r.json()["tasks"] == {"user": 6, "unionfind": 10}


def test_import_malformed_rows_import_nothing(ida: Run, db: Path, tmp_path: Path) -> None:
    ida("init")
    bad = tmp_path / "bad.jsonl"
    good = json.dumps({"question": "fine?"})
    bad.write_text(f'{good}\n{good}\n{{"question": \n')
    r = ida("questions", "import", str(bad))
    assert r.code == 2
    assert r.stderr.startswith(f"error: {bad}:3: field '-': not valid JSON")
    assert r.stderr.endswith("; nothing was imported\n")
    bad.write_text(
        f"{good}\n"
        + json.dumps(
            {
                "task": "permutation",
                "context": {"perm": [0, 1, 2, 3, 4, 5, 6, 7]},
                "question": {"x": 9, "k": 3},
            }
        )
        + "\n"
    )
    r = ida("questions", "import", str(bad))
    assert r.stderr == f"error: {bad}:2: field 'question': x must be an item 0..7; nothing was imported\n"
    bad.write_text(
        json.dumps(
            {
                "task": "permutation",
                "context": {"perm": [0, 1, 2, 3, 4, 5, 6, 7]},
                "question": {"x": 1, "k": 3},
                "truth": 5,
            }
        )
        + "\n"
    )
    r = ida("questions", "import", str(bad))
    assert r.stderr == f"error: {bad}:1: field 'truth': 5 is not the ground truth (1); nothing was imported\n"
    csv = tmp_path / "bad.csv"
    csv.write_text("question,task\nfine?,user\nwhat?,sorting\n")
    r = ida("questions", "import", str(csv))
    assert r.code == 2
    assert r.stderr.startswith(f"error: {csv}:3: field 'task': unknown task 'sorting'")
    csv.write_text("task,question\nuser,ok\nuser,\n")
    r = ida("questions", "import", str(csv))
    assert r.stderr == f"error: {csv}:3: field 'question': missing; nothing was imported\n"
    assert count(db, "questions") == 0 and count(db, "contexts") == 0


def test_import_refuses_a_train_context_in_eval(ida: Run, db: Path, tmp_path: Path) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "3", "--seed", "1")
    out = tmp_path / "q.jsonl"
    ida("questions", "export", "--format", "jsonl", "-o", str(out))
    r = ida("questions", "import", str(out), "--split", "eval")
    assert r.code == 2
    assert "context': this context is already in the train split" in r.stderr
    assert count(db, "questions") == 3


def test_export_any_table_and_bad_paths(ida: Run, db: Path, tmp_path: Path) -> None:
    ida("questions", "generate", "--task", "shortpath", "--size", "8", "--count", "4", "--seed", "1")
    ida("round", "--questions", "2")
    for fmt in ("parquet", "csv", "jsonl"):
        r = ida("export", "--table", "nodes", "--format", fmt, "-o", str(tmp_path / f"n.{fmt}"), "--json")
        assert r.code == 0 and r.json()["rows"] == count(db, "nodes")
    assert pl.read_parquet(tmp_path / "n.parquet").height == count(db, "nodes")
    r = ida("export", "--table", "users", "--format", "csv", "-o", str(tmp_path / "u.csv"))
    assert r.code == 2 and r.stderr.startswith(
        "error: unknown table 'users': use one of contexts, questions,"
    )
    missing = tmp_path / "no" / "such" / "n.csv"
    r = ida("export", "--table", "nodes", "--format", "csv", "-o", str(missing))
    assert r.code == 2
    assert r.stderr == (
        f"error: cannot write {missing}: folder {missing.parent} does not exist; "
        "create it or choose another -o\n"
    )
