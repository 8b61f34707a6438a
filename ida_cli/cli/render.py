"""Rich renderings of core results: tables, the status dashboard, tree pictures, progress."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree as RichTree

from ida_cli.text import visible
from ida_cli.vocabulary import Node, Tree


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal; yields advance(done, total)."""
    import sys

    if not enabled or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task_id = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task_id, completed=done, total=total)

        yield advance


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def round_table(doc: dict[str, Any]) -> Group:
    title = Text(f"round {doc['round']}: {doc['task']}, strategy {doc['strategy']}, oracle {doc['oracle']}")
    table = Table(show_header=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    acc = doc["accuracy"]
    notes = []
    if doc.get("questions_available") is not None:
        notes.append(f"only {doc['questions_available']} unlabelled were left")
    if doc.get("taken_meanwhile"):
        replaced = f", {doc['replaced']} replaced" if doc.get("replaced") else ""
        notes.append(
            f"{doc['taken_meanwhile']} picked were taken up by a person or another round meanwhile{replaced}"
        )
    rows = [
        ("questions", f"{doc['questions']} ({'; '.join(notes)})" if notes else doc["questions"]),
        ("overseer calls", f"{doc['overseer_calls']} ({doc['primitive_calls']} primitive)"),
        ("model calls", doc["model_calls"]),
        ("nodes", doc["nodes"]),
        ("recursions per step", _fmt(doc["recursions_per_step"])),
        ("amplified accuracy", "-" if acc is None else f"{acc:.1%} ({doc['correct']}/{doc['with_truth']})"),
        ("time", f"{doc['seconds']:.2f} s ({doc['nodes_per_second']:.0f} nodes/s)"),
    ]
    for k, v in rows:
        table.add_row(k, str(v))
    return Group(title, table)


def status_panel(s: dict[str, Any]) -> Panel:
    q = Table("task", "split", "size", "questions", "labelled", title="questions")
    for r in s["questions"]:
        q.add_row(r["task"], r["split"], str(r["size"]), str(r["questions"]), str(r["labelled"]))
    c = s["counts"]
    summary = Table(show_header=False, box=None)
    summary.add_column(style="bold", justify="right")
    summary.add_column()
    acc = s["amplified_accuracy"]
    for k, v in [
        ("database", f"{s['db']} (schema {s['schema_version']}, {s['bytes'] / 1e6:.1f} MB)"),
        ("trees", f"{c['trees']} trees, {c['nodes']} nodes, {c['rounds']} rounds"),
        (
            "overseer calls",
            f"{s['overseer_calls']} ({s['primitive_calls']} primitive), model {s['model_calls']}",
        ),
        ("amplified accuracy", "-" if acc is None else f"{acc:.1%}"),
        ("versions", ", ".join(f"{k} v{v}" for k, v in s["versions"].items()) or "none trained yet"),
        ("audits", str(c["audits"])),
    ]:
        summary.add_row(k, v)
    parts: list[Any] = [summary, q]
    if s["last_round"]:
        r = s["last_round"]
        parts.append(
            Text(
                f"last round {r['id']}: {r['task']} {r['strategy']} ({r['oracle']}), "
                f"{r['questions']} questions, {r['status']}"
            )
        )
    if s["overseers"]:
        o = Table("overseer", "calls", "sessions", "median s", title="overseers")
        for r in s["overseers"]:
            o.add_row(r["actor"], str(r["calls"]), str(r["sessions"]), _fmt(r["median_seconds"]))
        parts.append(o)
    if s.get("annotators"):
        t = Table(
            "annotator", "done", "skipped", "open", "expired", "steps", "median s", "live", title="annotators"
        )
        for r in s["annotators"]:
            t.add_row(
                r["annotator"],
                *(str(r[k]) for k in ("done", "skipped", "open", "expired", "steps")),
                _fmt(r["median_seconds"]),
                "yes" if r["live"] else "no",
            )
        parts.append(t)
    if s["metrics"]:
        m = Table("metric", "task", "value", "model", title="latest metrics")
        for r in s["metrics"]:
            m.add_row(r["name"], r["task"] or "-", _fmt(r["value"]), _fmt(r["model_version"]))
        parts.append(m)
    return Panel(Group(*parts), title="ida status")


def _label(node: Node, text: Callable[[Any], str], answer: Callable[[Node], str]) -> Text:
    label = Text()
    label.append(f"#{node.id} ", style="dim")
    label.append(visible(text(node.question)))
    label.append(" → ")
    label.append(visible(answer(node)), style="bold")
    label.append(f"  {visible(node.by)}", style="cyan" if node.by != "model" else "magenta")
    if node.score is not None:
        label.append(f" S={node.score:.2f}", style="yellow")
    if node.correct is not None:
        label.append(
            " ✓" if node.correct else f" ✗ (truth {json.dumps(node.truth)})",
            style="green" if node.correct else "red",
        )
    return label


def tree_picture(tree: Tree, max_depth: int | None = None) -> RichTree:
    from ida_cli.tasks import get_task

    task = get_task(tree.task)

    def text(q: Any) -> str:
        try:
            return task.question_text(q)
        except (KeyError, TypeError):
            return json.dumps(q)

    def answer(node: Node) -> str:
        return task.answer_text(node.question, node.answer) if node.answer != "?" else "?"

    head = Text(
        f"tree {tree.id} · {tree.task} · {len(tree.nodes())} nodes · depth {tree.depth} · "
        f"{tree.overseer_calls} overseer calls ({tree.primitive_calls} primitive)"
        + (f" · {tree.memo_hits} memo hits" if tree.memo_hits else "")
    )
    pic = RichTree(head)
    stack: list[tuple[Node, RichTree]] = [(tree.root, pic)]
    while stack:
        node, parent = stack.pop()
        branch = parent.add(_label(node, text, answer))
        if max_depth is not None and node.depth >= max_depth and node.children:
            branch.add(Text(f"… {sum(1 for _ in node.walk()) - 1} more", style="dim"))
            continue
        for child in reversed(node.children):
            stack.append((child, branch))
    return pic


def curve_table(points: list[dict[str, Any]]) -> Table:
    table = Table(
        "cycle",
        "size",
        "overseer calls",
        "labelled",
        "accuracy",
        "adv AUROC",
        "conf AUROC",
        "wall s",
        title="learning curve",
    )
    for p in points:
        table.add_row(
            str(p["cycle"]),
            str(p["size"]),
            str(p["overseer_calls"]),
            str(p["labelled"]),
            _fmt(p["accuracy"]),
            _fmt(p["adversary_auroc"]),
            _fmt(p["uncertainty_auroc"]),
            f"{p['wall_seconds']:.0f}",
        )
    return table


def compare_table(rows: list[dict[str, Any]], levels: Sequence[float]) -> Table:
    table = Table(
        "task",
        "strategy",
        "runs",
        *(f"HC@{lv:g}" for lv in levels),
        "final accuracy",
        title="overseer calls to reach an accuracy (mean [95% bootstrap interval] over the seeds "
        "that reached it; reached/runs)",
    )

    def cell(s: dict[str, Any], pct: bool = False) -> str:
        if s["mean"] is None:
            return f"- ({s['reached']})"
        form = "{:.1%}" if pct else "{:,.0f}"
        span = "" if s.get("low") is None else f" [{form.format(s['low'])}–{form.format(s['high'])}]"
        return f"{form.format(s['mean'])}{span} ({s['reached']})"

    for r in rows:
        table.add_row(
            r["task"],
            escape(r["strategy"]),  # a variant may carry a file's name, brackets and all
            str(r["runs"]),
            *(cell(r[f"HC@{lv:g}"]) for lv in levels),
            cell(r["final"], pct=True),
        )
    return table


def ratio_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "task",
        "level",
        "strategy",
        "reached",
        "÷ full HCH",
        "÷ best baseline",
        "CPU ÷ supervised",
        title="HC@level over full HCH's and the best adversary-free baseline's, CPU seconds to the "
        "level over supervised's (95% bootstrap intervals)",
    )

    def cell(r: dict[str, Any] | None) -> str:
        if r is None:
            return "-"
        span = "" if r["low"] is None else f" [{r['low']:.2f}–{r['high']:.2f}]"
        return f"{r['ratio']:.2f}{span}" + ("" if r["against"] == "supervised" else f" ({r['against']})")

    for r in rows:
        if r["full"] or r["best_baseline"] or r.get("supervised_cpu"):
            table.add_row(
                r["task"],
                f"{r['level']:g}",
                escape(r["strategy"]),
                r["reached"],
                cell(r["full"]),
                cell(r["best_baseline"]),
                cell(r.get("supervised_cpu")),
            )
    return table


def grid_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "task",
        "strategy",
        "seed",
        "status",
        "final accuracy",
        "overseer calls",
        "HC@0.95",
        "minutes",
        title="grid cells",
    )
    for r in rows:
        table.add_row(
            r["task"],
            escape(r["strategy"]),  # a variant may carry a file's name, brackets and all
            str(r["seed"]),
            # a failure's reason belongs in the table; a deferral's was said as it happened
            r["status"] + (f" ({r['message']})" if r["message"] and r["status"] == "failed" else ""),
            "-" if r["final"] is None else f"{r['final']:.1%}",
            "-" if r["calls"] is None else f"{r['calls']:,}",
            "-" if r["HC@0.95"] is None else f"{r['HC@0.95']:,}",
            f"{r['minutes']:.1f}",
        )
    return table


def terminal_plot(points: list[dict[str, Any]], width: int = 60, height: int = 12) -> Text:
    """Accuracy against cost as characters, one mark per strategy."""
    from ida_cli.experiment.report import cost

    if not points:
        return Text("")
    marks = "*o+x#@%&"
    strategies = sorted({p["strategy"] for p in points})
    xmax = max(cost(p) for p in points) or 1
    grid = [[" "] * width for _ in range(height)]
    for i, strategy in enumerate(strategies):
        for p in points:
            if p["strategy"] == strategy and p["accuracy"] is not None:
                x = min(width - 1, int(cost(p) / xmax * (width - 1)))
                y = min(height - 1, int(p["accuracy"] * (height - 1)))
                grid[height - 1 - y][x] = marks[i % len(marks)]
    lines = [
        f"{'1.0' if r == 0 else '0.0' if r == height - 1 else '   '} |{''.join(row)}"
        for r, row in enumerate(grid)
    ]
    lines.append("    +" + "-" * width + f" {xmax:,} calls")
    lines.append("    " + "  ".join(f"{marks[i % len(marks)]} {s}" for i, s in enumerate(strategies)))
    return Text("\n".join(lines))
