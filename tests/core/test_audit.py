"""ida audit (docs/spec.md §3): the culprit found is the planted one in every order, the orders' costs, the
stored rows, --top, --all, the human oracle on a pseudo-terminal, and the errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb
import numpy as np
import pexpect
import pytest

from bench.probes.audit import noisy_scores, plant
from ida_cli.audit.localize import ScriptedOracle, child_order, localize
from ida_cli.audit.run import Scores
from ida_cli.errors import UsageError
from ida_cli.store import Store, treestore
from ida_cli.tasks import BUILTIN, get_task
from ida_cli.vocabulary import Node, Tree
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.walker import FullStrategy, Walker
from tests.helpers import ROOT, Run


def _planted(task_name: str, size: int, seed: int, count: int) -> list[tuple[Tree, Node]]:
    task = get_task(task_name)
    rng = np.random.default_rng(seed)
    walker = Walker(task, ScriptedOverseer(task), FullStrategy(), seed)
    out: list[tuple[Tree, Node]] = []
    while len(out) < count:
        ctx = task.generate_context(size, rng)
        for q in task.generate_questions(ctx, 2, rng):
            tree = walker.walk(ctx, q)
            for _ in range(6):
                if (got := plant(tree, rng)) is not None:
                    out.append(got)
    return out[:count]


@pytest.mark.parametrize("task_name", BUILTIN)
def test_every_order_finds_the_planted_culprit(task_name: str) -> None:
    oracle = ScriptedOracle()
    for number, (tree, culprit) in enumerate(_planted(task_name, 8 + 8 * (task_name < "s"), 7, 24)):
        rng = np.random.default_rng(number)
        wrong = {n.id for n in tree.root.walk() if not oracle.check(tree, n)}
        assert culprit.id in wrong and all(oracle.check(tree, c) for c in culprit.children)
        runs = {
            "perfect": localize(tree, oracle, "adversary", noisy_scores(tree, 0.0, rng), rng),
            "noisy": localize(tree, oracle, "adversary", noisy_scores(tree, 1.0, rng), rng),
            "unscored": localize(tree, oracle, "adversary", {}, rng),
            "random": localize(tree, oracle, "random", {}, rng),
            "full": localize(tree, oracle, "full", {}, rng),
        }
        assert {k: r.culprit for k, r in runs.items()} == dict.fromkeys(runs, culprit.id)
        # a perfect adversary goes straight down, then confirms the culprit's children
        assert runs["perfect"].checks == 1 + culprit.depth + len(culprit.children)
        assert [c.node for c in runs["perfect"].checked if not c.right] == [
            n.id for n in tree.root.walk() if n.id in wrong
        ]
        assert (runs["unscored"].order, runs["unscored"].requested) == ("random", "adversary")
        assert all(r.checks == len(r.checked) for r in runs.values())
        # full unfolding checks at least the path and the culprit's children too
        assert runs["full"].checks >= runs["perfect"].checks


def _node(nid: int, right: bool, *children: Node) -> Node:
    return Node(question={"x": 0, "k": 0}, answer=0 if right else 1, id=nid, children=list(children))


def _tree(root: Node) -> Tree:
    depth = {id(root): 0}
    for n in root.walk():
        n.depth = depth[id(n)]
        n.truth, n.has_truth = 0, True
        for c in n.children:
            depth[id(c)] = n.depth + 1
    return Tree(task="permutation", context={"perm": list(range(8))}, root=root, id=9)


def test_full_unfolding_is_breadth_first_and_stops_at_a_confirmed_culprit() -> None:
    # 1✗ ─ 2✓ ─ 4✓ 5✓ ; 3✗ ─ 6✓ 7✗ ─ 8✓ ; 7's only child is right: 7 is the culprit
    root = _node(1, False, _node(2, True, _node(4, True), _node(5, True)), _node(3, False))
    root.children[1].children = [_node(6, True), _node(7, False, _node(8, True))]
    tree, rng = _tree(root), np.random.default_rng(0)
    full = localize(tree, ScriptedOracle(), "full", {}, rng)
    assert (full.culprit, [c.node for c in full.checked]) == (7, [1, 2, 3, 4, 5, 6, 7, 8])
    scores = {2: -0.9, 3: -0.1, 6: -0.5, 7: -0.2, 8: 0.0}
    adv = localize(tree, ScriptedOracle(), "adversary", scores, rng)
    assert (adv.culprit, [c.node for c in adv.checked], adv.checks) == (7, [1, 2, 3, 6, 7, 8], 6)
    assert adv.note == "2 nodes without a score were checked after their scored siblings, at random"
    # a wrong leaf is a culprit the moment it is checked
    leaf = _tree(_node(1, False, _node(2, True), _node(3, False)))
    assert [c.node for c in localize(leaf, ScriptedOracle(), "full", {}, rng).checked] == [1, 2, 3]
    # unscored children go after the scored ones; random order is a seeded shuffle
    mixed = _node(1, False, _node(2, True), _node(3, True), _node(4, True))
    assert [c.id for c in child_order(mixed, "adversary", {4: -1.0, 2: 0.0}, rng)] == [4, 2, 3]
    orders = {
        tuple(c.id for c in child_order(mixed, "random", {}, np.random.default_rng(s))) for s in range(30)
    }
    assert len(orders) == 6


def test_a_cycle_and_a_right_root_are_refused() -> None:
    root = _node(1, False, _node(2, True))
    root.children[0].children = [root]
    with pytest.raises(UsageError, match=r"^tree 9: node 1 is reached twice \(a cycle or a duplicate id\)"):
        localize(Tree(task="permutation", context={"perm": list(range(8))}, root=root, id=9),
                 ScriptedOracle(), "full", {}, np.random.default_rng(0))  # fmt: skip
    with pytest.raises(UsageError, match=r"^tree 9's root answer is right: nothing to localize$"):
        localize(_tree(_node(1, True)), ScriptedOracle(), "random", {}, np.random.default_rng(0))


class FakeScorer:
    version = 7

    def score(self, items: list[tuple[object, object, object]], logps: object = None) -> list[float]:
        return [-0.01 * i for i, _ in enumerate(items)]


def test_missing_scores_come_from_the_current_adversary(db: Path) -> None:
    tree = _tree(_node(1, False, _node(2, True), _node(3, False), _node(4, True)))
    tree.root.children[0].score = -0.5
    tree.root.children[1].answer = "?"
    scores = Scores(Store(db))
    scores.loaded["permutation"] = (FakeScorer(), None)
    got, source, _ = scores(tree)
    assert (got, source) == ({2: -0.5, 1: 0.0, 3: -1.0, 4: -0.01}, "stored+adversary v7")


# -- the command --------------------------------------------------------------------------------------
def _round(ida: Run, db: Path, task: str = "permutation", count: int = 4, skip: int = 1) -> dict[int, int]:
    """A scripted round whose trees but the first `skip` get a planted culprit: tree id → culprit."""
    ida("questions", "generate", "--task", task, "--size", "8", "--count", str(count), "--seed", "1")
    assert ida("round", "--questions", str(count), "--seed", "0").code == 0
    store, rng, culprits = Store(db), np.random.default_rng(3), {}
    with store.read() as con:
        trees = [
            treestore.load_tree(con, i) for (i,) in con.execute("SELECT id FROM trees ORDER BY id").fetchall()
        ]
    with store.write() as con:
        for tree in trees[skip:]:
            got = next(g for _ in range(50) if (g := plant(tree, rng)) is not None)
            for table in ("actions", "nodes"):
                con.execute(f"DELETE FROM {table} WHERE tree_id = ?", [tree.id])
            con.execute("DELETE FROM trees WHERE id = ?", [tree.id])
            treestore.write_trees(con, [got[0]], None)  # fresh node ids, the culprit's among them
            culprits[tree.id] = got[1].id
    return culprits


def test_audit_json_and_the_stored_row(ida: Run, db: Path) -> None:
    culprits = _round(ida, db)
    tree_id, culprit = next(iter(culprits.items()))
    for order in ("adversary", "random", "full"):
        doc = ida("audit", str(tree_id), "--order", order, "--json").json()
        assert {"tree": doc["tree"], "culprit": doc["culprit"], "order": doc["order"]} == {
            "tree": tree_id,
            "culprit": culprit,
            "order": "random" if order == "adversary" else order,  # no scores, no adversary
        }
        assert doc["checks"] == len(doc["checked"]) and doc["oracle"] == "scripted"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT id, tree_id, oracle, ordering, culprit, checks, checked, session_id FROM audits"
        ).fetchall()
        actor = con.execute(
            "SELECT actor, command, status FROM sessions WHERE id = ?", [rows[-1][7]]
        ).fetchone()
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        (tree_id, "scripted", o, culprit) for o in ("random", "random", "full")
    ]
    assert rows[-1][0] == doc["audit"] == 3 and json.loads(rows[-1][6]) == doc["checked"]
    assert actor == ("scripted", "audit", "done")
    text = ida("audit", str(tree_id), "--order", "full").stdout
    assert text.startswith(f"tree {tree_id}: culprit node {culprit} at depth ")
    assert "stored as audit 4" in text


def test_top_lists_the_lowest_scores(ida: Run, db: Path) -> None:
    tree_id, culprit = next(iter(_round(ida, db).items()))
    r = ida("audit", str(tree_id), "--top", "3")
    assert (r.code, r.stderr) == (
        2,
        f"error: tree {tree_id} has no scores and there is no trained adversary for task permutation: "
        "run `ida train adversary --task permutation` first\n",
    )
    with duckdb.connect(str(db)) as con:
        ids = [
            i
            for (i,) in con.execute(
                "SELECT id FROM nodes WHERE tree_id = ? ORDER BY id", [tree_id]
            ).fetchall()
        ]
        for i in ids:
            con.execute("UPDATE nodes SET score = ? WHERE id = ?", [-((i * 37) % 11) / 10, i])
    doc = ida("audit", str(tree_id), "--top", "3", "--json").json()
    expected = sorted(ids, key=lambda i: (-((i * 37) % 11) / 10, i))[:3]
    assert [t["node"] for t in doc["top"]] == expected and doc["scores"] == "stored"
    assert set(doc["top"][0]) == {"node", "depth", "score", "by", "question", "answer"}
    assert ida("audit", str(tree_id), "--top", "0").stderr == "error: --top must be at least 1\n"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audits").fetchone() == (0,)  # --top checks nothing
    # with stored scores the adversary order is used as asked
    doc = ida("audit", str(tree_id), "--json").json()
    assert (doc["order"], doc["scores"], doc["note"], doc["culprit"]) == (
        "adversary",
        "stored",
        None,
        culprit,
    )


def test_all_audits_a_round_with_a_summary(ida: Run, db: Path) -> None:
    culprits = _round(ida, db, task="wildcard", count=4, skip=1)
    doc = ida("audit", "--all", "--order", "full", "--json").json()
    assert (doc["round"], doc["trees"], doc["root_right"]) == (1, 4, [min(culprits) - 1])
    assert {a["tree"]: a["culprit"] for a in doc["audits"]} == culprits
    assert doc["summary"]["audited"] == 3
    assert doc["summary"]["median_checks"] == sorted(a["checks"] for a in doc["audits"])[1]
    text = ida("audit", "--all", "--round", "1").stdout
    assert "round 1: 4 trees, 3 with a wrong root audited; checks mean" in text
    assert text.rstrip().endswith("1 with a right root: nothing to localize")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT session_id), count(*) FROM audits").fetchone() == (2, 6)


def test_audit_errors(ida: Run, db: Path) -> None:
    assert ida("audit", "1").stderr.startswith("error: no database at ")
    culprits = _round(ida, db)
    right_tree = min(culprits) - 1
    cases = {
        ("999",): "error: no tree with id 999: see `ida export --table trees` for the ids\n",
        (str(right_tree),): f"error: tree {right_tree}'s root answer is right: nothing to localize\n",
        ("1", "--order", "dfs"): "error: unknown order 'dfs': use --order adversary, random or full\n",
        (
            "1",
            "--oracle",
            "crowd",
        ): "error: unknown oracle 'crowd': use --oracle scripted or --oracle human\n",
        ("1", "--all"): "error: give a tree ID or --all, not both\n",
        (): "error: give a tree ID to audit, or --all for the trees of a round\n",
        ("--all", "--round", "5"): "error: no round with id 5: see `ida export --table rounds` for the ids\n",
        ("2", "--oracle", "human"): "error: --oracle human asks on a terminal, but stdin is not one: run it "
        "in a terminal, or use --oracle scripted\n",
    }
    for args, message in cases.items():
        r = ida("audit", *args)
        assert (r.code, r.stderr) == (2, message), args
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audits").fetchone() == (0,)


def test_an_imported_planted_tree_keeps_its_ids(ida: Run, db: Path, tmp_path: Path) -> None:
    tree, culprit = _planted("assignments", 8, 11, 1)[0]
    tree.id = 41
    path = tmp_path / "t.json"
    path.write_text(json.dumps(tree.to_json()))
    assert ida("trees", "import", str(path)).stdout == "41\n"
    assert ida("audit", "41", "--order", "random", "--json").json()["culprit"] == culprit.id
    bad = tree.to_json()
    bad["root"]["children"][0]["answer"] = "seven"
    path.write_text(json.dumps({**bad, "id": 42}))
    r = ida("trees", "import", str(path))
    assert r.code == 2 and r.stderr.startswith(f"error: {path}: root.children[0] (node ")
    assert ida("audit", "42").stderr.startswith("error: no tree with id 42")


def _spawn(db: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "IDA_DB": str(db), "COLUMNS": "100"}
    return pexpect.spawn(sys.executable, ["-m", "ida_cli", "audit", *args], cwd=str(ROOT), env=env,
                         encoding="utf-8", timeout=60)  # fmt: skip


PROMPT = "Is this answer right? press r (right), w (wrong) or q (quit)"


def test_human_oracle_one_key_a_check(ida: Run, db: Path) -> None:
    culprits = _round(ida, db)
    tree_id, culprit = next(iter(culprits.items()))
    with duckdb.connect(str(db), read_only=True) as con:
        right = dict(con.execute("SELECT id, correct FROM nodes WHERE tree_id = ?", [tree_id]).fetchall())
    child = _spawn(db, str(tree_id), "--oracle", "human", "--annotator", "tester", "--json")
    child.expect(r"check 1 · node (\d+) ")
    node = int(child.match.group(1))
    child.expect_exact(PROMPT)
    child.send("x")
    child.expect_exact("'x' is not offered: press r (right), w (wrong) or q (quit)")
    checks = 0
    while True:  # answer as the ground truth would, one key a check
        checks += 1
        child.send("r" if right[node] else "w")
        if child.expect([r"check \d+ · node (\d+) ", r'(\{"tree".*\})\r\n']) == 1:
            doc = json.loads(child.match.group(1))
            break
        node = int(child.match.group(1))
        child.expect_exact(PROMPT)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (doc["culprit"], doc["oracle"], doc["checks"]) == (culprit, "human", checks)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT a.oracle, s.actor FROM audits a JOIN sessions s ON s.id = a.session_id"
                           ).fetchall() == [("human", "human:tester")]  # fmt: skip
    child = _spawn(db, str(tree_id), "--oracle", "human")
    child.expect_exact(PROMPT)
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert f"error: audit of tree {tree_id} quit after 0 checks on it: it is not stored" in child.before
