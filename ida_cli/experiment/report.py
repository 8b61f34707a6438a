"""Comparing experiments: HC@p (overseer calls when accuracy first reaches p), final accuracy, and
learning-curve pictures. matplotlib is imported only to draw."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.store import Store, experiments

LEVELS = (0.9, 0.95, 0.99)


def read_curves(dbs: Sequence[Path]) -> tuple[list[dict[str, Any]], list[Path]]:
    """Every curve point of the databases, and the databases with none yet. A glob over a folder
    of experiments often takes in one that has just started (its first cycle not evaluated); that
    one is left out, unless no database has a point."""
    from ida_cli.experiment.run import curve

    points: list[dict[str, Any]] = []
    empty: list[Path] = []
    for db in dbs:
        store = Store(db, command="ida report")
        got = curve(store)
        if not got:
            empty.append(db)
            continue
        label = variants(store)
        points += [{**p, "db": str(db), "variant": label.get(p["experiment"], p["strategy"])} for p in got]
    if not points:
        db = empty[0]
        raise UsageError(f"{db} holds no experiment curve: run `ida experiment --db {db} ...` first")
    return points, empty


def variant(flags: dict[str, Any]) -> str:
    """A run's strategy with the settings that set it apart from the defaults, e.g.
    "adversary (τ=0.05, α'=-0.15)", so that a comparison keeps variants of one strategy apart."""
    shown = [
        ("temperature", "τ", 1.0),
        ("alpha", "α", None),
        ("confidence", "α'", None),
        ("p", "p", None),
        ("prime_rate", "rate", None),
    ]
    parts = [f"{sym}={flags[k]:g}" for k, sym, default in shown if flags.get(k, default) != default]
    if flags.get("curriculum"):
        parts.append("curriculum")
    if flags.get("warm_start"):
        parts.append("warm start")
    if flags.get("bucket"):
        parts.append("bucketed")
    return f"{flags['strategy']} ({', '.join(parts)})" if parts else str(flags["strategy"])


def variants(store: Store) -> dict[str, str]:
    """Each experiment's `variant` label, by name."""
    with store.read() as con:
        return {e.name: variant(e.flags) for e in experiments.every(con)}


def cost(point: dict[str, Any]) -> int:
    """What a point has spent: overseer calls, or labelled examples for the supervised baseline."""
    return int(point["labelled"] if point["strategy"] == "supervised" else point["overseer_calls"])


def _variant(point: dict[str, Any]) -> str:
    return str(point.get("variant") or point["strategy"])


def hc(points: Sequence[dict[str, Any]], level: float) -> int | None:
    for p in sorted(points, key=lambda p: p["cycle"]):
        if p["accuracy"] is not None and p["accuracy"] >= level:
            return cost(p)
    return None


def _summary(values: list[float | None]) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    return {
        "mean": statistics.fmean(got) if got else None,
        "spread": statistics.pstdev(got) if len(got) > 1 else 0.0 if got else None,
        "reached": f"{len(got)}/{len(values)}",
    }


def compare(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for p in points:
        runs.setdefault((p["task"], _variant(p), f"{p['db']}:{p['experiment']}"), []).append(p)
    table: dict[tuple[str, str], dict[str, list[float | None]]] = {}
    for (task, strategy, _), pts in runs.items():
        row = table.setdefault((task, strategy), {"final": [], **{f"HC@{lv}": [] for lv in LEVELS}})
        row["final"].append(max(pts, key=lambda p: p["cycle"])["accuracy"])
        for lv in LEVELS:
            h = hc(pts, lv)
            row[f"HC@{lv}"].append(None if h is None else float(h))
    return [
        {
            "task": task,
            "strategy": strategy,
            "runs": len(vals["final"]),
            **{k: _summary(v) for k, v in vals.items()},
        }
        for (task, strategy), vals in sorted(table.items())
    ]


LOG_X_RATIO = 8  # a plot's calls axis is logarithmic where they span more than this factor


def plot_curves(points: Sequence[dict[str, Any]], path: Path) -> None:
    """Accuracy against overseer calls: one line per strategy (mean over seeds), a band from the
    lowest to the highest seed, one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from ida_cli.project.outputs import atomic_path

    tasks = sorted({p["task"] for p in points})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        by: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for p in points:
            if p["task"] == task:
                by.setdefault(_variant(p), {}).setdefault(f"{p.get('db')}:{p['experiment']}", []).append(p)
        for strategy, runs in sorted(by.items()):
            xs = np.unique([cost(p) for pts in runs.values() for p in pts])
            ys = np.array(
                [
                    np.interp(xs, [cost(p) for p in pts], [p["accuracy"] or 0.0 for p in pts])
                    for pts in (sorted(v, key=lambda p: p["cycle"]) for v in runs.values())
                ]
            )
            ax.plot(xs, ys.mean(axis=0), label=strategy)
            if len(ys) > 1:
                ax.fill_between(xs, ys.min(axis=0), ys.max(axis=0), alpha=0.2)
        ax.set_title(task)
        spent = [cost(p) for p in points if p["task"] == task and cost(p) > 0]
        if spent and max(spent) > LOG_X_RATIO * min(spent):
            # strategies that differ tenfold in calls (primed rounds against full HCH) would
            # otherwise crowd into the left edge
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())  # 2×10², 3×10², … overlap
        ax.set_xlabel("overseer calls (supervised: labelled examples)")
        ax.set_ylabel("eval accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, force=True) as tmp:  # a plot is redrawn on every run
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
