from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.helpers import ROOT, Run

TASKS = ["permutation", "assignments", "wildcard", "unionfind", "shortpath"]


@pytest.mark.parametrize("task", TASKS)
def test_full_round_reaches_truth_and_stores_everything(ida: Run, db: Path, task: str) -> None:
    ida("questions", "generate", "--task", task, "--size", "8", "--count", "12", "--seed", "5")
    r = ida("round", "--strategy", "full", "--questions", "4", "--seed", "2", "--json")
    assert r.code == 0, r.stderr
    doc = r.json()
    assert (doc["task"], doc["questions"], doc["accuracy"], doc["correct"], doc["status"]) == (
        task,
        4,
        1.0,
        4,
        "done",
    )
    assert doc["recursions_per_step"] is not None and doc["model_calls"] == 0
    with duckdb.connect(str(db), read_only=True) as con:
        trees, nodes, calls, prims = con.execute(
            "SELECT count(*), sum(nodes), sum(overseer_calls), sum(primitive_calls) FROM trees"
        ).fetchone()
        actions = con.execute("SELECT count(*), count(*) FILTER (WHERE primitive) FROM actions").fetchone()
        wrong = con.execute("SELECT count(*) FROM nodes WHERE NOT correct").fetchone()[0]
    assert (trees, nodes, calls, prims) == (4, doc["nodes"], doc["overseer_calls"], doc["primitive_calls"])
    assert actions == (calls, prims)
    assert wrong == 0
    # the next round takes other questions; the pool runs dry with a clear message
    assert ida("round", "--questions", "8", "--json").json()["questions"] == 8
    r = ida("round", "--questions", "1")
    assert r.code == 2
    assert r.stderr == (
        f"error: no unlabelled training questions left for task {task}: run "
        f"`ida questions generate --task {task} --size N --count C --seed S`\n"
    )


def test_round_option_errors(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    cases = {
        (
            "--strategy",
            "greedy",
        ): "error: unknown strategy 'greedy': use one of adversary, bernoulli, uncertainty, "
        "random, full, none\n",
        ("--alpha", "-1"): "error: --alpha applies to --strategy bernoulli or uncertainty, not full\n",
        ("--temperature", "0"): "error: --temperature must be greater than 0\n",
        ("--questions", "0"): "error: --questions must be at least 1\n",
        ("--no-memo", "--memo-stand-ins"): "error: --memo-stand-ins answers from the overseer's memo: "
        "leave out --no-memo\n",
        (
            "--no-memo",
            "--memo-primed",
        ): "error: --memo-primed adds to the overseer's memo: leave out --no-memo\n",
    }
    for args, message in cases.items():
        r = ida("round", *args)
        assert (r.code, r.stderr) == (2, message)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM rounds").fetchone() == (0,)


def test_round_needs_a_task_when_several_have_questions(ida: Run) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "4", "--seed", "1")
    r = ida("round")
    assert (r.code, r.stderr) == (
        2,
        "error: several tasks have questions (permutation, wildcard): choose one with --task\n",
    )
    ida("init", "--task", "permutation")
    assert ida("round", "--questions", "1", "--json").json()["task"] == "permutation"


def test_trees_show_export_import(ida: Run, db: Path, tmp_path: Path) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "2", "--seed", "1")
    tree_id = ida("round", "--questions", "1", "--json").json()["trees"][0]
    shown = ida("trees", "show", str(tree_id))
    assert shown.code == 0
    first = shown.stdout.splitlines()[0]
    assert first.startswith(f"tree {tree_id} · permutation · ") and "overseer calls" in first
    assert "scripted ✓" in shown.stdout
    doc = ida("trees", "show", str(tree_id), "--json").json()
    assert set(doc) == {"id", "task", "context", "root"}
    assert set(doc["root"]) == {"id", "question", "answer", "by", "score", "step", "recursed", "children"}
    out = tmp_path / "t.json"
    assert ida("trees", "export", str(tree_id), "-o", str(out)).code == 0
    assert json.loads(out.read_text()) == doc
    other = tmp_path / "other.duckdb"
    r = ida("--db", str(other), "trees", "import", str(out))
    assert (r.code, r.stdout) == (0, f"{tree_id}\n")
    assert ida("--db", str(other), "trees", "show", str(tree_id), "--json").json() == doc
    r = ida("--db", str(other), "trees", "import", str(out))
    assert (r.code, r.stderr) == (
        2,
        f"error: {out}: tree id {tree_id} is already taken: export it again with "
        "other ids or use another --db\n",
    )
    r = ida("trees", "show", "999")
    assert (r.code, r.stderr) == (
        2,
        "error: no tree with id 999: see `ida export --table trees` for the ids\n",
    )


def _tree_file(tmp_path: Path, doc: dict) -> Path:  # type: ignore[type-arg]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    return p


def test_trees_import_bad_files(ida: Run, db: Path, tmp_path: Path) -> None:
    leaf = {
        "id": 2,
        "question": {"x": 1, "k": 1},
        "answer": 1,
        "by": "scripted",
        "score": None,
        "step": 0,
        "recursed": True,
        "children": [],
    }
    root = {
        "id": 1,
        "question": {"x": 1, "k": 2},
        "answer": 1,
        "by": "scripted",
        "score": None,
        "step": 0,
        "recursed": True,
        "children": [leaf],
    }
    good = {"id": 7, "task": "permutation", "context": {"perm": [0, 1, 2, 3, 4, 5, 6, 7]}, "root": root}
    cyc = json.loads(json.dumps(good))
    cyc["root"]["children"][0]["children"] = [json.loads(json.dumps(root))]
    p = _tree_file(tmp_path, cyc)
    r = ida("trees", "import", str(p))
    assert (
        r.stderr == f"error: {p}: root.children[0].children[0] repeats node id 1 (a cycle or a duplicate)\n"
    )
    missing = json.loads(json.dumps(good))
    del missing["root"]["children"][0]["answer"]
    p = _tree_file(tmp_path, missing)
    assert (
        ida("trees", "import", str(p)).stderr == f"error: {p}: root.children[0] is missing field 'answer'\n"
    )
    wrong = json.loads(json.dumps(good))
    wrong["root"]["children"][0]["answer"] = "seven"
    p = _tree_file(tmp_path, wrong)
    r = ida("trees", "import", str(p))
    assert r.code == 2
    assert r.stderr == (
        f"error: {p}: root.children[0] (node 2) answer \"seven\" is not of the form for 'pow 1 1': "
        "the answer is one item, an integer\n"
    )
    p = _tree_file(tmp_path, {**good, "task": "chess"})
    assert "unknown task 'chess'" in ida("trees", "import", str(p)).stderr
    assert not db.exists()
    p = _tree_file(tmp_path, good)
    assert ida("trees", "import", str(p)).stdout == "7\n"


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\nfrom ida_cli.cli import main\nsys.argv = ['ida', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('torch', 'sklearn', 'polars', 'duckdb', 'numpy', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.splitlines()[-1] == "LOADED []"
    assert "Commands" in out


def test_rich_output_at_a_fixed_width(ida: Run) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "4", "--seed", "1")
    r = ida("round", "--questions", "2", "--seed", "0")
    lines = r.stdout.splitlines()
    assert lines[0].strip() == "round 1: permutation, strategy full, oracle scripted"
    assert any(line.startswith("│  amplified accuracy │ 100.0% (2/2)") for line in lines)
    s = ida("status").stdout.splitlines()
    assert all(len(line) <= 100 for line in s)
    assert s[0].startswith("╭") and "ida status" in s[0]
    assert any("last round 1: permutation full (scripted), 2 questions, done" in line for line in s)
    assert any("│ permutation │ train │ 8    │ 4         │ 2        │" in line for line in s)


def test_a_scripted_round_remembers_and_counts_memo_hits(ida: Run, db: Path, tmp_path: Path) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "10", "--seed", "1")
    other = tmp_path / "plain.duckdb"
    shutil.copy(db, other)
    memo = ida("round", "--questions", "10", "--json").json()
    plain = ida("--db", str(other), "round", "--questions", "10", "--no-memo", "--json").json()
    assert memo["accuracy"] == plain["accuracy"] == 1.0 and plain["memo_hits"] == 0
    assert memo["memo_hits"] > 0 and memo["overseer_calls"] < plain["overseer_calls"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sum(memo_hits) FROM trees").fetchone() == (memo["memo_hits"],)
