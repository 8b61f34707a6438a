"""ida audit: localize the culprit of a wrong tree (docs/spec.md §3), or list its nodes most likely wrong.

The person at the terminal is the human oracle: each check shows the node and waits for one key
(r right, w wrong, q quit). Everything it shows goes to stderr, so `--json` still prints exactly
one JSON document on stdout."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import typer

from ida_cli.cli.common import JSON_OPTION, console, emit_json, store
from ida_cli.errors import Interrupted, UsageError
from ida_cli.text import visible, visible_lines

if TYPE_CHECKING:
    from ida_cli.audit.localize import AuditResult
    from ida_cli.tasks.base import Task
    from ida_cli.vocabulary import Node, Tree

KEYS = "press r (right), w (wrong) or q (quit)"


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    ctx: typer.Context,
    tree_id: int = typer.Argument(None, metavar="ID", help="The tree to audit."),
    all_trees: bool = typer.Option(False, "--all", help="Audit every tree of a round with a wrong root."),
    round_id: int = typer.Option(None, "--round", help="With --all: the round (default the latest)."),
    oracle: str = typer.Option("scripted", "--oracle", help="scripted (ground truth) or human (you)."),
    order: str = typer.Option("adversary", "--order", help="adversary (lowest S first), random or full."),
    top: int = typer.Option(None, "--top", help="List the K nodes most likely wrong; check nothing."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random order."),
    annotator: str = typer.Option(None, "--annotator", help="Your name for --oracle human (default $USER)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Find the culprit of a wrong tree: a node whose answer is wrong while every answer it used is right."""
    from ida_cli.audit import run as core

    if oracle not in ("scripted", "human"):
        raise UsageError(f"unknown oracle '{oracle}': use --oracle scripted or --oracle human")
    core.check_order(order)
    if all_trees and tree_id is not None:
        raise UsageError("give a tree ID or --all, not both")
    if round_id is not None and not all_trees:
        raise UsageError("--round goes with --all: `ida audit --all --round R`")
    if top is not None and tree_id is None:
        raise UsageError("--top lists the nodes of one tree: give its ID, e.g. `ida audit 3 --top 5`")
    if tree_id is None and not all_trees:
        raise UsageError("give a tree ID to audit, or --all for the trees of a round")
    db = store(ctx, "audit")
    if top is not None:
        _top(db, tree_id, top, as_json)
        return
    human = TerminalOracle(annotator) if oracle == "human" else None
    if all_trees:
        batch = core.audit_round(db, round_id, order, human, seed)
        if as_json:
            emit_json(batch.to_json())
        else:
            _round_table(batch.to_json())
        return
    result = core.audit(db, tree_id, order, human, seed)
    if as_json:
        emit_json(result.to_json())
    else:
        _result_text(result)


def _text(task: Task, question: Any, answer: Any) -> tuple[str, str]:
    """A question and answer as text, or as JSON where they have no text form (malformed)."""
    from ida_cli.vocabulary import canonical

    try:
        q = task.question_text(question)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        q = canonical(question)
    try:
        a = task.answer_text(question, answer)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        a = canonical(answer)
    return visible(q), visible(a)


def _result_text(r: AuditResult) -> None:
    from ida_cli.tasks import get_task

    q, a = _text(get_task(r.task), r.question, r.answer)
    out = console()
    out.print(
        f"tree {r.tree}: culprit node {r.culprit} at depth {r.culprit_depth} ({q} → {a}), found in "
        f"{r.checks} checks (order {r.order}, oracle {r.oracle}; {r.nodes} nodes, depth {r.depth})",
        markup=False,
    )
    out.print("checked: " + " · ".join(f"{c.node} {'✓' if c.right else '✗'}" for c in r.checked))
    if r.note:
        out.print(f"note: {visible(r.note)}", markup=False)
    out.print(f"stored as audit {r.audit}")


def _round_table(doc: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"round {doc['round']}: audits")
    for col in ("tree", "nodes", "depth", "culprit", "culprit depth", "checks", "order"):
        table.add_column(col, justify="left" if col == "order" else "right")
    for r in doc["audits"]:
        cells = (r["tree"], r["nodes"], r["depth"], r["culprit"], r["culprit_depth"], r["checks"], r["order"])
        table.add_row(*(str(c) for c in cells))
    out, s = console(), doc["summary"]
    if doc["audits"]:
        out.print(table)
    line = f"round {doc['round']}: {doc['trees']} trees, {s['audited']} with a wrong root audited"
    if s["audited"]:
        line += f"; checks mean {s['mean_checks']:.1f}, median {s['median_checks']:g}"
    out.print(line)
    if doc["root_right"]:
        out.print(f"{len(doc['root_right'])} with a right root: nothing to localize")


def _top(db: Any, tree_id: int, k: int, as_json: bool) -> None:
    from ida_cli.audit.run import top_nodes
    from ida_cli.tasks import get_task

    tree, nodes, scores, source, warning = top_nodes(db, tree_id, k)
    task = get_task(tree.task)
    rows: list[dict[str, Any]] = []
    for n in nodes:
        q, a = _text(task, n.question, n.answer)
        rows.append(
            {"node": n.id, "depth": n.depth, "score": scores[n.id], "by": n.by, "question": q, "answer": a}
        )
    if as_json:
        emit_json({"tree": tree.id, "scores": source, "top": rows, "note": warning})
        return
    from rich.table import Table

    table = Table(title=f"tree {tree.id}: the {len(rows)} nodes most likely wrong (scores {source})")
    for col in ("node", "depth", "S", "by", "question", "answer"):
        table.add_column(col, justify="right" if col in ("node", "depth", "S") else "left")
    for r in rows:
        cells = (r["node"], r["depth"], f"{r['score']:.3f}", r["by"], r["question"], r["answer"])
        table.add_row(*(str(c) for c in cells))
    console().print(table)
    if warning:
        console(stderr=True).print(f"warning: {warning}")


class TerminalOracle:
    """The human oracle: one node at a time on the terminal, judged with one key."""

    name = "human"

    def __init__(self, annotator: str | None) -> None:
        if not sys.stdin.isatty():
            raise UsageError(
                "--oracle human asks on a terminal, but stdin is not one: run it in a terminal, "
                "or use --oracle scripted"
            )
        import getpass

        self.actor = f"human:{annotator or getpass.getuser()}"
        self.out = console(stderr=True)
        self.tree: int | None = None
        self.checks = 0

    def check(self, tree: Tree, node: Node) -> bool:
        from ida_cli.tasks import get_task

        task = get_task(tree.task)
        if self.tree != tree.id:  # a new tree: its context once, then its nodes
            self.tree, self.checks = tree.id, 0
            self.out.print(f"\ntree {tree.id} · {tree.task}")
            if tree.context is not None:
                self.out.print(visible_lines(task.render_context(tree.context)), markup=False)
        self.checks += 1
        q, a = _text(task, node.question, node.answer)
        self.out.print(
            f"\ncheck {self.checks} · node {node.id} · depth {node.depth} · by {visible(node.by)}",
            markup=False,
        )
        self.out.print(f"  question  {q}", markup=False)
        for i, child in enumerate(node.children):
            sq, sa = _text(task, child.question, child.answer)
            self.out.print(f"  {'asked' if i == 0 else '':<8}  {sq} → {sa}", markup=False)
        self.out.print(f"  answer    {a}", markup=False)
        self.out.print(f"Is this answer right? {KEYS}")
        while True:
            key = _read_key()
            if key.lower() in ("r", "w"):
                self.out.print(key.lower())
                return key.lower() == "r"
            if key.lower() == "q":
                raise Interrupted(
                    f"audit of tree {tree.id} quit after {self.checks - 1} checks on it: it is not stored"
                )
            self.out.print(f"{key!r} is not offered: {KEYS}", markup=False)


def _read_key() -> str:
    """One key press, unechoed: a terminal in cbreak mode (Ctrl-C still interrupts); an escape
    sequence (an arrow key) arrives in one read and counts as one key."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        data = os.read(fd, 32)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    if not data:
        raise Interrupted("the terminal closed: the audit is not stored")
    return data.decode(errors="replace")
