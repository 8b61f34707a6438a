"""Audit benchmark (issue 7): checks to find a planted culprit, per order, against tree size.

Trees are scripted full-HCH trees walked in-process (every task at sizes 8, 16 and 64, and
permutation with k up to 2^12 for trees of thousands of nodes). In each, one node's answer is made
wrong and the error carried up to the root (`plant`); every order then searches for it. The
adversary order runs on synthetic scores S = -[node wrong] + σ·N(0, 1) at several noise levels σ
(σ = 0 is a perfect adversary). Writes bench/out/audit.json, prints markdown tables and plots
bench/figures/audit_checks.png.

    .venv/bin/python -m bench.probes.audit [--trees 6] [--plants 4] [--seed 0] [--report]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ida_cli.audit.localize import ScriptedOracle, localize
from ida_cli.errors import IdaError
from ida_cli.tasks import BUILTIN, get_task
from ida_cli.tasks.base import Task, canonical
from ida_cli.vocabulary import JSON, UNKNOWN, Ask, Node, Tree
from ida_cli.walk.overseer import ScriptedOverseer
from ida_cli.walk.strategies import FullStrategy
from ida_cli.walk.walker import Walker

ROOT = Path(__file__).resolve().parents[2]

NOISE = (0.0, 0.5, 1.0)
BUCKETS = (10, 30, 100, 300, 1000, 3000, 10_000)


# -- planting -----------------------------------------------------------------------------------------
def wrong_value(task: Task, tree: Tree, node: Node, rng: np.random.Generator) -> JSON | None:
    """A well-formed wrong answer for `node` (never "?"): drawn from the tree's other answers, small
    integers, names, and one-off edits of a list-valued truth; None where nothing fits."""
    ctx, truth, n = tree.context, node.truth, task.context_size(tree.context)
    pool: list[JSON] = [m.answer for m in tree.root.walk()] + list(range(-n - 1, n + 2))
    pool += ["inf", None, True, False] + [f"v{i}" for i in range(n)]
    pool += [[f"v{i}", f"v{j}"] for i, j in rng.integers(n, size=(8, 2)) if i != j]
    if isinstance(truth, list):
        pool += [truth[:i] + truth[i + 1 :] for i in range(len(truth))]
        extra = [f"v{i}" for i in range(n)] if truth and isinstance(truth[0], str) else list(range(n))
        pool += [sorted([*truth, x]) if isinstance(x, int) else [*truth, x] for x in extra if x not in truth]
    seen, ok = {canonical(truth), canonical(UNKNOWN)}, []
    for value in pool:
        key = canonical(value)
        if key in seen:
            continue
        seen.add(key)
        try:
            if task.answer_ok(node.question, value, ctx):
                ok.append(value)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue  # a candidate of a shape the validator does not expect is not well formed
    return ok[int(rng.integers(len(ok)))] if ok else None


def plant(tree: Tree, rng: np.random.Generator, target: Node | None = None) -> tuple[Tree, Node] | None:
    """A copy of `tree` in which `target` (default a uniformly drawn node) answers wrong while its
    own subtree stays right, with every ancestor re-decided by the scripted expert; None unless the
    root ends up wrong. Nodes off the path are shared with `tree`, not copied.

    An ancestor is re-walked, not just re-combined: a wrong subanswer can change which subquestions
    the expert asks next (pow(x, k/2) → y' leads to pow(y', k/2)), so the ancestor's fan-in is
    replayed from its fan-out, children whose question is unchanged at the same position are reused,
    and each new subquestion gets a fresh, right, scripted full-HCH subtree. The planted node is
    then the only wrong node whose children are all right: the one culprit."""
    task = get_task(tree.task)
    target = target or tree.nodes()[int(rng.integers(len(tree.nodes())))]
    path = _path(tree.root, target)
    wrong = wrong_value(task, tree, target, rng)
    if wrong is None:
        return None
    planted = replace(target, answer=wrong, children=list(target.children))
    ids = iter(range(max(n.id for n in tree.root.walk()) + 1, 2**62))
    walker = Walker(task, ScriptedOverseer(task), FullStrategy(), int(rng.integers(2**31)))
    node = planted
    try:
        for parent, child in zip(reversed(path[:-1]), reversed(path[1:]), strict=True):
            redone = _rewalk(task, tree.context, parent, child, node, walker, ids)
            if redone is None:
                return None
            node = redone
    except (IdaError, KeyError, IndexError, TypeError, ValueError):
        return None  # the expert cannot go on from the wrong answer: try another plant
    if node.answer != UNKNOWN and canonical(node.answer) == canonical(node.truth):
        return None  # the error did not reach the root
    # the planted node itself, or its copy where a re-walk renumbered its step
    culprit = next(n for n in node.walk() if n.id == target.id)
    return replace(tree, root=node, actions=[]), culprit


def _path(root: Node, target: Node) -> list[Node]:
    parents: dict[int, Node] = {}
    for node in root.walk():
        for c in node.children:
            parents[id(c)] = node
    path = [target]
    while path[-1] is not root:
        path.append(parents[id(path[-1])])
    return path[::-1]


def _rewalk(
    task: Task, ctx: JSON, parent: Node, old_child: Node, new_child: Node, walker: Walker, ids: Any
) -> Node | None:
    old = [new_child if c is old_child else c for c in parent.children]
    node = replace(parent, children=[])
    transcript: list[tuple[JSON, JSON]] = []
    y, step = task.expert_fan_out(ctx, parent.question), 0
    while isinstance(y, Ask):
        if step > 4 * task.context_size(ctx) + 16:
            return None  # a fan-in that never settles on the wrong answer
        for sq in y.questions:
            i = len(node.children)
            if i < len(old) and canonical(old[i].question) == canonical(sq):
                child = old[i] if old[i].step == step else replace(old[i], step=step)
            else:
                if canonical(sq) == canonical(parent.question):
                    return None  # the expert would loop
                task.check_question(sq, ctx)
                child = walker.walk(ctx, sq).root
                for m in child.walk():
                    m.depth += parent.depth + 1
                    m.id = next(ids)
                child.step = step
            node.children.append(child)
            transcript.append((sq, child.answer))
        step += 1
        y = task.expert_fan_in(ctx, parent.question, transcript)
    if not any(c is new_child or c.id == new_child.id for c in node.children):
        return None  # the wrong subanswer's own question was not asked again
    node.answer = y.value
    return node


def noisy_scores(tree: Tree, noise: float, rng: np.random.Generator) -> dict[int, float]:
    """A synthetic adversary: S = -1 for a wrong node, 0 for a right one, plus σ·N(0, 1)."""
    oracle = ScriptedOracle()
    return {
        n.id: (0.0 if oracle.check(tree, n) else -1.0) + noise * float(rng.normal()) for n in tree.root.walk()
    }


# -- the benchmark ------------------------------------------------------------------------------------
def trees(count: int, seed: int) -> list[tuple[str, int, Tree]]:
    """(task, size, tree): `count` questions per task and size, plus permutation at large k."""
    out = []
    for t, name in enumerate(BUILTIN):
        task = get_task(name)
        for size in (8, 16, 64):
            rng = np.random.default_rng([seed, t, size])
            walker = Walker(task, ScriptedOverseer(task), FullStrategy(), seed)
            got = 0
            while got < count:
                ctx = task.generate_context(size, rng)
                for q in task.generate_questions(ctx, min(count - got, 3), rng):
                    out.append((name, size, walker.walk(ctx, q)))
                    got += 1
    task, rng = get_task("permutation"), np.random.default_rng([seed, 99])
    walker = Walker(task, ScriptedOverseer(task), FullStrategy(), seed)
    for bits in (8, 10, 12):
        for _ in range(max(1, count // 2)):
            ctx = task.generate_context(64, rng)
            k = int(rng.integers(2 ** (bits - 1), 2**bits))
            out.append(("permutation", 64, walker.walk(ctx, {"x": int(rng.integers(64)), "k": k})))
    return out


def run(count: int, plants: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    oracle = ScriptedOracle()
    for number, (name, size, tree) in enumerate(trees(count, seed)):
        rng = np.random.default_rng([seed, number])
        done = tries = 0
        while done < plants and tries < 20 * plants:
            tries += 1
            got = plant(tree, rng)
            if got is None:
                continue
            wrong, culprit = got
            done += 1
            row = {"task": name, "size": size, "nodes": len(wrong.nodes()), "depth": wrong.depth}
            row |= {"culprit_depth": culprit.depth, "culprit_children": len(culprit.children)}
            row["floor"] = 1 + culprit.depth + len(culprit.children)
            for order, sigma in [("random", None), ("full", None)] + [("adversary", s) for s in NOISE]:
                scores = noisy_scores(wrong, sigma, rng) if sigma is not None else {}
                result = localize(wrong, oracle, order, scores, rng)
                assert result.culprit == culprit.id, (name, order, sigma)
                row[order if sigma is None else f"adversary σ={sigma}"] = result.checks
            rows.append(row)
    return rows


COLUMNS = [f"adversary σ={s}" for s in NOISE] + ["random", "full"]
Group = tuple[str, list[dict[str, Any]]]


def table(key: str, groups: list[Group]) -> str:
    """Median (mean) checks per order; `floor` is a perfect adversary's 1 + d + c (the root, one
    check per level down, and the culprit's c children to confirm it); the last column is the
    σ = 0.5 adversary's median checks over the median culprit depth."""
    head = [key, "plants", "mean nodes", "mean depth", "median culprit depth", "median floor", *COLUMNS]
    head.append("σ=0.5 ÷ culprit depth")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, group in groups:
        if not group:
            continue

        def med(k: str, g: list[dict[str, Any]] = group) -> float:
            return float(statistics.median(r[k] for r in g))

        cells = [label, str(len(group)), f"{statistics.fmean(r['nodes'] for r in group):.0f}"]
        cells += [f"{statistics.fmean(r['depth'] for r in group):.1f}", f"{med('culprit_depth'):g}"]
        cells += [f"{med('floor'):g}"]
        cells += [f"{med(c):g} ({statistics.fmean(r[c] for r in group):.1f})" for c in COLUMNS]
        depth = med("culprit_depth")
        cells.append(f"{med(COLUMNS[1]) / depth:.2f}" if depth else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def groups(rows: list[dict[str, Any]]) -> dict[str, list[Group]]:
    edges = (1, *BUCKETS)
    by_size = [
        (f"{lo}–{hi - 1}", [r for r in rows if lo <= r["nodes"] < hi]) for lo, hi in itertools.pairwise(edges)
    ]
    depths = [(0, 0), (1, 1), (2, 2), (3, 4), (5, 7), (8, 11), (12, 99)]
    by_depth = [
        (
            f"{lo}" if lo == hi else f"{lo}–{hi}" if hi < 99 else f"{lo}+",
            [r for r in rows if lo <= r["culprit_depth"] <= hi],
        )
        for lo, hi in depths
    ]
    by_task = [(t, [r for r in rows if r["task"] == t]) for t in BUILTIN]
    return {"tree nodes": by_size, "culprit depth": by_depth, "task": by_task}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=80)
    nodes = np.array([r["nodes"] for r in rows])
    edges = np.array((1, *BUCKETS))
    for c, marker in zip(COLUMNS, "o^sxd", strict=True):
        checks = np.array([r[c] for r in rows])
        left.scatter(nodes, checks, s=5, alpha=0.25, marker=marker)
        xs, ys = [], []
        for lo, hi in itertools.pairwise(edges):
            inside = (nodes >= lo) & (nodes < hi)
            if inside.any():
                xs.append(float(np.median(nodes[inside])))
                ys.append(float(np.median(checks[inside])))
        left.plot(xs, ys, marker=marker, label=c)
    left.set(xscale="log", yscale="log", xlabel="tree size (nodes)", ylabel="checks (median per size bucket)")
    left.legend(fontsize=7)
    depth = np.array([r["culprit_depth"] for r in rows])
    for c, marker in zip(COLUMNS, "o^sxd", strict=True):
        checks = np.array([r[c] for r in rows])
        ds = sorted(set(depth.tolist()))
        right.plot(ds, [float(np.median(checks[depth == d])) for d in ds], marker=marker, label=c)
    ds = np.arange(0, depth.max() + 1)
    right.plot(ds, 1.5 * ds, "k--", lw=1, label="1.5 × depth")
    right.set(yscale="log", xlabel="culprit depth", ylabel="checks (median)")
    right.legend(fontsize=7)
    fig.suptitle("Audit: checks to a planted culprit", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trees", type=int, default=6, help="questions per task and size")
    ap.add_argument("--plants", type=int, default=4, help="culprits planted per tree")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", action="store_true", help="only redo the tables and plot from the last run")
    args = ap.parse_args()
    saved = ROOT / "bench" / "out" / "audit.json"
    if args.report:
        doc = json.loads(saved.read_text())
        rows, seconds = doc["rows"], doc["seconds"]
    else:
        t0 = time.perf_counter()
        rows = run(args.trees, args.plants, args.seed)
        seconds = time.perf_counter() - t0
        saved.parent.mkdir(exist_ok=True)
        saved.write_text(json.dumps({"args": vars(args), "seconds": seconds, "rows": rows}) + "\n")
    for key, group in groups(rows).items():
        print(table(key, group) + "\n")
    plot(rows, ROOT / "bench" / "figures" / "audit_checks.png")
    print(f"\n{len(rows)} plants in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
