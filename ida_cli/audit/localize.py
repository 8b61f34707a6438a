"""Error-localization audits (docs/spec.md §3): find a tree's culprit, a node whose answer is
wrong while every answer it used (its children's) is right. A check asks an oracle whether one
node's answer is right (the ground truth, or a person through an oracle object from the CLI: this
module never prints).

- `adversary`: from the wrong root, check a wrong node's children in increasing S (most likely wrong
  first) and go into the first wrong one; a wrong node whose children are all right is the culprit.
  With a perfect adversary that costs 1 + the culprit's depth + its number of children.
- `random`: the same descent, children in a seeded random order.
- `full`: full unfolding, breadth-first over the whole tree (levels top-down, children in asking
  order) until a checked-wrong node has all its children checked and right. That node is a culprit
  whatever later checks say, so stopping wastes nothing; the cost grows with n.
Every order checks the root first (counted): a right root leaves nothing to localize."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from ida_cli.errors import UsageError
from ida_cli.tasks import get_task
from ida_cli.vocabulary import UNKNOWN, Node, Tree, canonical

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
        # canonical text, so that true and 1 differ; "?" is never right (docs/spec.md §4)
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
    question: Any  # the culprit's question and answer (JSON forms, docs/spec.md §6.1)
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
