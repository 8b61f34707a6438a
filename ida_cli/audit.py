"""Error-localization audits (SPEC 3): find a tree's culprit, a node whose answer is wrong while every
answer it used (its children's) is right. A check asks an oracle whether one node's answer is right
(the ground truth, or a person through an oracle object from the CLI: this module never prints).

- `adversary`: from the wrong root, check a wrong node's children in increasing S (most likely wrong
  first) and go into the first wrong one; a wrong node whose children are all right is the culprit.
  With a perfect adversary that costs 1 + the culprit's depth + its number of children.
- `random`: the same descent, children in a seeded random order.
- `full`: full unfolding, breadth-first over the whole tree (levels top-down, children in asking
  order) until a checked-wrong node has all its children checked and right. That node is a culprit
  whatever later checks say, so stopping wastes nothing; the cost grows with n.
Every order checks the root first (counted): a right root leaves nothing to localize."""

from __future__ import annotations

import json
import os
import statistics
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from ida_cli.errors import NotFound, UsageError
from ida_cli.store import Store, records
from ida_cli.store.db import next_id, now
from ida_cli.tasks import USER, get_task
from ida_cli.tasks.base import UNKNOWN, canonical
from ida_cli.tree import Node, Tree

ORDERS = ("adversary", "random", "full")


class RootRight(UsageError):
    """The root's answer is right: there is no culprit to find."""


class Oracle(Protocol):
    name: str  # "scripted" or "human"

    def check(self, tree: Tree, node: Node) -> bool:
        """True where the node's answer is right."""
        ...


class ScriptedOracle:
    """The ground truth: the stored one, or the task's direct solver where none was stored."""

    name = "scripted"

    def check(self, tree: Tree, node: Node) -> bool:
        truth = node.truth
        if not node.has_truth:
            task = get_task(tree.task)
            if not task.has_expert:
                raise UsageError(
                    f"tree {tree.id} is of task {tree.task}: no ground truth, use --oracle human"
                )
            try:
                truth = task.truth(tree.context, node.question)
            except (KeyError, IndexError, TypeError, ValueError):
                raise UsageError(
                    f"node {node.id} of tree {tree.id} has no ground truth (its question is not valid in "
                    "the context): use --oracle human"
                ) from None
        # canonical text, so that true and 1 differ; "?" is never right (SPEC 4)
        return node.answer != UNKNOWN and canonical(node.answer) == canonical(truth)


@dataclass
class Check:
    node: int
    right: bool
    depth: int
    score: float | None


@dataclass
class AuditResult:
    tree: int
    task: str
    culprit: int
    question: Any  # the culprit's question and answer (JSON forms, SPEC 6.1)
    answer: Any
    checks: int
    order: str  # the order used: "random" where "adversary" had no scores to go by
    requested: str
    oracle: str
    nodes: int
    depth: int
    culprit_depth: int
    scores: str  # where S came from: "stored", "adversary vN", "stored+adversary vN", "none", "unused"
    note: str | None = None
    checked: list[Check] = field(default_factory=list)
    audit: int | None = None  # the stored audit's id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_order(order: str) -> None:
    if order not in ORDERS:
        raise UsageError(f"unknown order '{order}': use --order adversary, random or full")


def check_structure(tree: Tree) -> None:
    """Refuse a node id met twice (a cycle or a shared node) before anything walks the tree: a cycle
    would never end."""
    ids: set[int] = set()
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if node.id in ids:
            raise UsageError(
                f"tree {tree.id}: node {node.id} is reached twice (a cycle or a duplicate id): "
                "export and import it again with distinct node ids"
            )
        ids.add(node.id)
        stack.extend(node.children)


def localize(
    tree: Tree,
    oracle: Oracle,
    order: str,
    scores: Mapping[int, float],
    rng: np.random.Generator,
    score_source: str = "none",
) -> AuditResult:
    """Find the culprit of `tree` in `order`; `scores` maps node ids to S (used by the adversary
    order only). Nothing is stored."""
    check_order(order)
    check_structure(tree)
    checked: list[Check] = []
    requested, note = order, None
    if order == "adversary" and not scores:
        order, score_source = "random", "none"
        note = f"no node of tree {tree.id} has a score and there is no trained adversary: random order"
    elif order == "adversary" and (unscored := sum(n.id not in scores for n in tree.nodes()[1:])):
        note = f"{unscored} nodes without a score were checked after their scored siblings, at random"

    def check(node: Node) -> bool:
        right = oracle.check(tree, node)
        checked.append(Check(node.id, right, node.depth, scores.get(node.id)))
        return right

    if check(tree.root):
        raise RootRight(f"tree {tree.id}'s root answer is right: nothing to localize")
    culprit = _full(tree.root, check) if order == "full" else _descend(tree.root, check, order, scores, rng)
    nodes = tree.nodes()
    return AuditResult(
        tree=tree.id,
        task=tree.task,
        culprit=culprit.id,
        question=culprit.question,
        answer=culprit.answer,
        checks=len(checked),
        order=order,
        requested=requested,
        oracle=oracle.name,
        nodes=len(nodes),
        depth=max(n.depth for n in nodes),
        culprit_depth=culprit.depth,
        scores=score_source if requested == "adversary" else "unused",
        note=note,
        checked=checked,
    )


def child_order(node: Node, order: str, scores: Mapping[int, float], rng: np.random.Generator) -> list[Node]:
    """Children in checking order: increasing S (ties in asking order), then those without a score
    at random; or all at random."""
    shuffled = [node.children[i] for i in rng.permutation(len(node.children))]
    if order == "random":
        return shuffled
    scored = sorted((c for c in node.children if c.id in scores), key=lambda c: scores[c.id])
    return scored + [c for c in shuffled if c.id not in scores]


def _descend(
    node: Node,
    check: Callable[[Node], bool],
    order: str,
    scores: Mapping[int, float],
    rng: np.random.Generator,
) -> Node:
    # `node` is known wrong; a loop rather than recursion, so deep trees cannot overflow the stack
    while True:
        for child in child_order(node, order, scores, rng):
            if not check(child):
                node = child
                break
        else:
            return node


def _full(root: Node, check: Callable[[Node], bool]) -> Node:
    """Breadth-first below the root, which is checked and wrong."""
    if not root.children:
        return root
    wrong = {id(root)}
    queue: deque[tuple[Node, Node]] = deque((root, c) for c in root.children)
    while queue:
        parent, node = queue.popleft()
        if not check(node):
            if not node.children:
                return node
            wrong.add(id(node))
        queue.extend((node, c) for c in node.children)
        # a parent's children are consecutive in breadth-first order: once its last one is checked,
        # a wrong parent with no wrong child is a culprit
        last = node is parent.children[-1]
        if last and id(parent) in wrong and not any(id(c) in wrong for c in parent.children):
            return parent
    raise AssertionError("a finite tree with a wrong root has a culprit")


def top(tree: Tree, scores: Mapping[int, float], k: int) -> list[Node]:
    """The k lowest-S nodes (most likely wrong), ties by id: for review, nothing is checked."""
    if not scores:
        raise UsageError(
            f"tree {tree.id} has no scores and there is no trained adversary for task {tree.task}: "
            f"run `ida train adversary --task {tree.task}` first"
        )
    return sorted((n for n in tree.root.walk() if n.id in scores), key=lambda n: (scores[n.id], n.id))[:k]


def summary(results: list[AuditResult]) -> dict[str, Any]:
    def stat(fn: Callable[[list[float]], float], key: str) -> float | None:
        return fn([getattr(r, key) for r in results]) if results else None

    return {
        "audited": len(results),
        "mean_checks": stat(statistics.fmean, "checks"),
        "median_checks": stat(statistics.median, "checks"),
        "mean_nodes": stat(statistics.fmean, "nodes"),
        "mean_culprit_depth": stat(statistics.fmean, "culprit_depth"),
    }


# -- the commands' cores: load, score, audit, store ---------------------------------------------------
class Scores:
    """S per node: the stored ones, and the current adversary's where a node has none. The adversary
    is loaded once per task and only when needed (loading it imports torch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loaded: dict[str, tuple[Any, str | None]] = {}

    def __call__(self, tree: Tree) -> tuple[dict[int, float], str, str | None]:
        scores = {n.id: float(n.score) for n in tree.root.walk() if n.score is not None}
        missing = [n for n in tree.root.walk() if n.id not in scores]
        source = "stored" if scores else "none"
        if not missing:
            return scores, source, None
        if tree.task not in self.loaded:
            from ida_cli.adversarial import load_scorer
            from ida_cli.versions import load_model

            ml = load_model(self.store, tree.task, required=False) if tree.task != USER else None
            self.loaded[tree.task] = (
                load_scorer(self.store, tree.task, ml, required=False) if ml else (None, None)
            )
        scorer, warning = self.loaded[tree.task]
        if scorer is None:
            return scores, source, None
        # "?" is never right (SPEC 4): the surest wrong answer, whatever the network would say of it
        got = iter(
            scorer.score([(tree.context, n.question, n.answer) for n in missing if n.answer != UNKNOWN])
        )
        scores.update({n.id: -1.0 if n.answer == UNKNOWN else float(next(got)) for n in missing})
        adv = f"adversary v{scorer.version}"
        return scores, adv if source == "none" else f"{source}+{adv}", warning


@dataclass
class RoundAudit:
    round: int
    trees: int
    results: list[AuditResult]
    root_right: list[int]  # trees whose root answer is right: nothing to localize there

    def to_json(self) -> dict[str, Any]:
        audits = [r.to_json() for r in self.results]
        return {
            "round": self.round,
            "trees": self.trees,
            "audits": audits,
            "root_right": self.root_right,
            "summary": summary(self.results),
        }


def _one(tree: Tree, order: str, oracle: Oracle | None, seed: int, scores: Scores) -> AuditResult:
    check_structure(tree)
    got, source, warning = scores(tree) if order == "adversary" else ({}, "unused", None)
    rng = np.random.default_rng([seed % 2**64, tree.id % 2**64])  # each tree its own stream
    result = localize(tree, oracle or ScriptedOracle(), order, got, rng, source)
    if warning:
        result.note = warning if result.note is None else f"{result.note}; {warning}"
    return result


def audit(
    store: Store, tree_id: int, order: str = "adversary", oracle: Oracle | None = None, seed: int = 0
) -> AuditResult:
    """Audit one stored tree (oracle None: the scripted one) and store the result."""
    check_order(order)
    with store.read() as con:
        tree = records.load_tree(con, tree_id)
    started = now()
    result = _one(tree, order, oracle, seed, Scores(store))
    _store(store, [result], oracle, started)
    return result


def audit_round(
    store: Store, round_id: int | None, order: str = "adversary", oracle: Oracle | None = None, seed: int = 0
) -> RoundAudit:
    """Audit every tree of a round (default the latest) whose root is wrong, storing each result. On
    Ctrl-C or a person's quit the audits finished so far are kept."""
    check_order(order)
    with store.read() as con:
        if round_id is None:
            round_id = con.execute("SELECT max(id) FROM rounds").fetchone()[0]
            if round_id is None:
                raise UsageError("no rounds yet: run `ida round` first, or audit one tree by its ID")
        elif not con.execute("SELECT 1 FROM rounds WHERE id = ?", [round_id]).fetchone():
            raise NotFound(f"no round with id {round_id}: see `ida export --table rounds` for the ids")
        sql = "SELECT id FROM trees WHERE round_id = ? ORDER BY id"
        ids = [r[0] for r in con.execute(sql, [round_id]).fetchall()]
        trees = [records.load_tree(con, i) for i in ids]
    started, scores = now(), Scores(store)
    out = RoundAudit(round_id, len(trees), [], [])
    try:
        for tree in trees:
            try:
                out.results.append(_one(tree, order, oracle, seed, scores))
            except RootRight:
                out.root_right.append(tree.id)
    finally:
        _store(store, out.results, oracle, started)
    return out


def _store(store: Store, results: list[AuditResult], oracle: Oracle | None, started: datetime) -> None:
    """One session (who checked, from when) and one audits row per result, in one transaction."""
    if not results:
        return
    name, session = oracle.name if oracle else "scripted", uuid.uuid4().hex
    with store.write() as con:
        records.create_session(con, session, "audit", getattr(oracle, "actor", name), os.getpid())
        con.execute("UPDATE sessions SET started_at = ? WHERE id = ?", [started, session])
        records.end_session(con, session, "done")
        first = next_id(con, "audits")
        for i, r in enumerate(results):
            r.audit = first + i
            checked = json.dumps([asdict(c) for c in r.checked])
            con.execute(
                """INSERT INTO audits (id, tree_id, created_at, oracle, ordering, culprit, checks, checked,
                   session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [r.audit, r.tree, now(), name, r.order, r.culprit, r.checks, checked, session],
            )


def top_nodes(
    store: Store, tree_id: int, k: int
) -> tuple[Tree, list[Node], dict[int, float], str, str | None]:
    """`--top K`: the tree, its K nodes most likely wrong (lowest S), all scores, their source and a
    warning; nothing is checked or stored."""
    if k < 1:
        raise UsageError("--top must be at least 1")
    with store.read() as con:
        tree = records.load_tree(con, tree_id)
    check_structure(tree)
    scores, source, warning = Scores(store)(tree)
    return tree, top(tree, scores, k), scores, source, warning
