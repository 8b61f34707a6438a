"""The audit commands' cores (docs/spec.md §3): load trees, score their nodes, localize each culprit with
ida_cli/audit/localize.py, store the results (one session and one audits row each)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ida_cli.audit.localize import (
    AuditResult,
    Oracle,
    RootRight,
    ScriptedOracle,
    check_order,
    check_structure,
    localize,
    summary,
    top,
)
from ida_cli.errors import NotFound, UsageError
from ida_cli.store import Store, audits, treestore
from ida_cli.store.db import now
from ida_cli.tasks import USER
from ida_cli.vocabulary import UNKNOWN, Node, Tree

__all__ = ["AuditResult", "RoundAudit", "Scores", "audit", "audit_round", "top_nodes"]


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
            from ida_cli.learn.adversarial import load_scorer
            from ida_cli.learn.versions import load_model

            ml = load_model(self.store, tree.task, required=False) if tree.task != USER else None
            self.loaded[tree.task] = (
                load_scorer(self.store, tree.task, ml, required=False) if ml else (None, None)
            )
        scorer, warning = self.loaded[tree.task]
        if scorer is None:
            return scores, source, None
        # "?" is never right (docs/spec.md §4): the surest wrong answer, whatever the network would say of it
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
        tree = treestore.load_tree(con, tree_id)
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
            round_id = audits.latest_round(con)
            if round_id is None:
                raise UsageError("no rounds yet: run `ida round` first, or audit one tree by its ID")
        elif not audits.round_exists(con, round_id):
            raise NotFound(f"no round with id {round_id}: see `ida export --table rounds` for the ids")
        trees = [treestore.load_tree(con, i) for i in audits.round_tree_ids(con, round_id)]
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
        rows = [
            audits.AuditRow(r.tree, r.order, r.culprit, r.checks, json.dumps([asdict(c) for c in r.checked]))
            for r in results
        ]
        ids = audits.save(con, session, getattr(oracle, "actor", name), name, started, os.getpid(), rows)
    for r, audit_id in zip(results, ids, strict=True):
        r.audit = audit_id


def top_nodes(
    store: Store, tree_id: int, k: int
) -> tuple[Tree, list[Node], dict[int, float], str, str | None]:
    """`--top K`: the tree, its K nodes most likely wrong (lowest S), all scores, their source and a
    warning; nothing is checked or stored."""
    if k < 1:
        raise UsageError("--top must be at least 1")
    with store.read() as con:
        tree = treestore.load_tree(con, tree_id)
    check_structure(tree)
    scores, source, warning = Scores(store)(tree)
    return tree, top(tree, scores, k), scores, source, warning
