"""Comparing experiments: HC@p (overseer calls when accuracy first reaches p), final accuracy, and
learning-curve pictures. matplotlib is imported only to draw."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.store import Store, experiments
from ida_cli.walk.selection import DEFAULT_CONFIDENCE, DEFAULT_TEMPERATURE

LEVELS = (0.9, 0.95, 0.99)


def read_curves(paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[Path]]:
    """Every curve point of the experiment databases and grid results files (`ida grid`) named,
    a folder standing for every one in it, and the databases with none yet. A glob over a folder
    of experiments often takes in one that has just started (its first cycle not evaluated); that
    one is left out, unless no database has a point."""
    from ida_cli.experiment import curvefile
    from ida_cli.experiment.run import curve

    points: list[dict[str, Any]] = []
    empty: list[Path] = []
    for path in _expand(paths):
        if path.suffix == ".json":
            points += curvefile.read(path)
            continue
        store = Store(path, command="ida report")
        got = curve(store)
        if not got:
            empty.append(path)
            continue
        label = variants(store)
        points += [{**p, "db": str(path), "variant": label.get(p["experiment"], p["strategy"])} for p in got]
    if not points:
        if not empty:
            raise UsageError(f"no experiment database or grid results file in {', '.join(map(str, paths))}")
        db = empty[0]
        raise UsageError(f"{db} holds no experiment curve: run `ida experiment --db {db} ...` first")
    return points, empty


def _expand(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted([*path.glob("*.json"), *path.glob("*.duckdb")])
        else:
            out.append(path)
    return out


def variant(flags: dict[str, Any]) -> str:
    """A run's strategy with the settings that set it apart from the defaults, e.g.
    "adversary (τ=1, α'=-0.05)", so that a comparison keeps variants of one strategy apart. The
    default priming counts as its α' (DEFAULT_CONFIDENCE), so a run that gave that α' and one
    that left it to the default are one variant; flags stored before `prime` existed are primed
    only where they gave a threshold or a rate."""
    from ida_cli.experiment.options import before
    from ida_cli.walk.selection import AUTO_PRIMED, reads_temperature

    auto = flags["strategy"] in AUTO_PRIMED
    prime = flags["prime"] if "prime" in flags else before(flags)["prime"]
    confidence = flags.get("confidence")
    if confidence is None and prime and auto:
        confidence = DEFAULT_CONFIDENCE
    values = {**flags, "confidence": confidence, "step_share": _share(flags)}
    if flags["strategy"] == "supervised":
        values["root_weight"] = 1  # every row is a question's answer: nothing to weigh apart
    if not reads_temperature(flags["strategy"], confidence):
        values["temperature"] = DEFAULT_TEMPERATURE
    shown = [
        ("temperature", "τ", DEFAULT_TEMPERATURE),
        ("alpha", "α", None),
        ("confidence", "α'", DEFAULT_CONFIDENCE if auto else None),
        ("p", "p", None),
        ("prime_rate", "rate", None),
        ("prime_error", "ε", None),
        ("step_share", "steps", _default_share(flags)),
        ("root_weight", "root", 1),
        ("per_context", "ctx", 8),
    ]
    parts = [
        f"{sym}={values[k]:g}"
        for k, sym, default in shown
        if values.get(k, default) != default and values.get(k) is not None
    ]
    if auto and confidence is None:
        parts.append("unprimed")
    if flags.get("curriculum"):
        parts.append("curriculum")
    if flags.get("warm_start"):
        parts.append("warm start")
    if flags.get("bucket"):
        parts.append("bucketed")
    if flags.get("memo_stand_ins") and flags["strategy"] not in ("supervised", "full"):
        parts.append("memo stand-ins")
    if flags.get("memo_primed") and flags["strategy"] != "supervised":
        parts.append("memo primed")
    return f"{flags['strategy']} ({', '.join(parts)})" if parts else str(flags["strategy"])


def _default_share(flags: dict[str, Any]) -> float:
    """Today's default step share for a run's schedule (one stored before `--schedule` ran in
    cycles): a label shows the share where it differs."""
    from ida_cli.experiment.options import default_share

    return default_share(str(flags.get("schedule", "cycles")))


def _share(flags: dict[str, Any]) -> float:
    """The step share a run trained with: as given, else its schedule's default; 1 for a run
    stored before the flag existed. Supervised runs have only answers, nothing to thin."""
    if flags["strategy"] == "supervised":
        return _default_share(flags)
    if "step_share" not in flags:
        return 1.0
    return _default_share(flags) if flags["step_share"] is None else float(flags["step_share"])


def variants(store: Store) -> dict[str, str]:
    """Each experiment's `variant` label, by name."""
    with store.read() as con:
        return {e.name: variant(e.flags) for e in experiments.every(con)}


def cost(point: dict[str, Any]) -> int:
    """What a point has spent: overseer calls, or labelled examples for the supervised baseline."""
    return int(point["labelled"] if point["strategy"] == "supervised" else point["overseer_calls"])


def _variant(point: dict[str, Any]) -> str:
    return str(point.get("variant") or point["strategy"])


def reaching(points: Sequence[dict[str, Any]], level: float) -> dict[str, Any] | None:
    """The first point whose eval accuracy reaches `level` (None: never)."""
    for p in sorted(points, key=lambda p: p["cycle"]):
        if p["accuracy"] is not None and p["accuracy"] >= level:
            return p
    return None


def hc(points: Sequence[dict[str, Any]], level: float) -> int | None:
    p = reaching(points, level)
    return None if p is None else cost(p)


def cpu_to(points: Sequence[dict[str, Any]], level: float) -> float | None:
    """CPU seconds when accuracy first reaches `level` (None: never, or a curve without them)."""
    p = reaching(points, level)
    return None if p is None or p.get("cpu_seconds") is None else float(p["cpu_seconds"])


def _summary(values: list[float | None]) -> dict[str, Any]:
    """Mean over the runs that reached it, spread, a 95% bootstrap interval of the mean over them,
    and how many reached it."""
    from ida_cli.experiment.stats import mean_interval

    got = [v for v in values if v is not None]
    interval = mean_interval(got)
    return {
        "mean": statistics.fmean(got) if got else None,
        "spread": statistics.pstdev(got) if len(got) > 1 else 0.0 if got else None,
        "low": interval[0] if interval else None,
        "high": interval[1] if interval else None,
        "reached": f"{len(got)}/{len(values)}",
    }


def check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    """The accuracies HC is reported at, in order; each must lie in (0, 1]."""
    for lv in levels:
        if not 0 < lv <= 1:
            raise UsageError(f"--level {lv:g} is not an accuracy: give one in (0, 1], e.g. --level 0.7")
    return tuple(sorted(set(levels))) or LEVELS


def _runs(
    points: Sequence[dict[str, Any]], levels: Sequence[float] = LEVELS
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (task, variant): its strategy, and each run's final accuracy and HC@level."""
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for p in points:
        runs.setdefault((p["task"], _variant(p), f"{p['db']}:{p['experiment']}"), []).append(p)
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for (task, name, _), pts in runs.items():
        row = table.setdefault(
            (task, name),
            {
                "strategy": pts[0]["strategy"],
                "final": [],
                **{f"HC@{lv:g}": [] for lv in levels},
                **{f"CPU@{lv:g}": [] for lv in levels},
            },
        )
        row["final"].append(max(pts, key=lambda p: p["cycle"])["accuracy"])
        for lv in levels:
            h = hc(pts, lv)
            row[f"HC@{lv:g}"].append(None if h is None else float(h))
            row[f"CPU@{lv:g}"].append(cpu_to(pts, lv))
    return table


def compare(points: Sequence[dict[str, Any]], levels: Sequence[float] = LEVELS) -> list[dict[str, Any]]:
    return [
        {
            "task": task,
            "strategy": name,
            "runs": len(vals["final"]),
            **{k: _summary(v) for k, v in vals.items() if k != "strategy"},
        }
        for (task, name), vals in sorted(_runs(points, levels).items())
    ]


# the adversary-free baselines (docs/spec.md §2.1, §2.3) that a strategy's calls are set against
BASELINES = ("uncertainty", "random", "none", "full")


def ratios(points: Sequence[dict[str, Any]], levels: Sequence[float] = LEVELS) -> list[dict[str, Any]]:
    """Per task, level and strategy: its HC@level over full HCH's and over the best adversary-free
    baseline's (the lowest mean of the others), each with a 95% bootstrap interval over seeds, and
    its CPU seconds to the level over the supervised baseline's (issue 22's cost of amplification;
    of several supervised variants, the quickest to the level). Means are over the runs that
    reached the level, so a ratio stands beside how many did."""
    from ida_cli.experiment.stats import ratio_interval

    table = _runs(points, levels)
    out = []
    for task in sorted({t for t, _ in table}):
        mine = {
            name: row for (t, name), row in table.items() if t == task and row["strategy"] != "supervised"
        }
        supervised = [row for (t, _), row in table.items() if t == task and row["strategy"] == "supervised"]
        for lv in levels:
            key = f"HC@{lv:g}"
            reached = {name: [v for v in row[key] if v is not None] for name, row in mine.items()}

            def mean(name: str, reached: dict[str, list[float]] = reached) -> float:
                return statistics.fmean(reached[name])

            fulls = [n for n, row in mine.items() if row["strategy"] == "full" and reached[n]]
            full = max(fulls, key=lambda n: len(reached[n]), default=None)
            for name, row in sorted(mine.items()):
                if not reached[name]:
                    continue
                bases = [
                    n for n, r in mine.items() if r["strategy"] in BASELINES and n != name and reached[n]
                ]
                best = min(bases, key=mean, default=None)
                entry: dict[str, Any] = {"task": task, "level": lv, "strategy": name}
                entry["reached"] = f"{len(reached[name])}/{len(row[key])}"
                for label, ref in (("full", full), ("best_baseline", best)):
                    got = ratio_interval(reached[name], reached[ref]) if ref and ref != name else None
                    entry[label] = _ratio(ref, got)
                cpu = [v for v in row[f"CPU@{lv:g}"] if v is not None]
                # of several supervised variants (other rounds, say), the one quickest to the
                # level: issue 22 sets amplification against supervised learning at its best
                fast = [[v for v in r[f"CPU@{lv:g}"] if v is not None] for r in supervised]
                base = min((f for f in fast if f), key=statistics.fmean, default=[])
                entry["supervised_cpu"] = _ratio(
                    "supervised", ratio_interval(cpu, base) if cpu and base else None
                )
                out.append(entry)
    return out


def _ratio(
    against: str | None, got: tuple[float, float | None, float | None] | None
) -> dict[str, Any] | None:
    if got is None:
        return None
    return {"against": against, "ratio": got[0], "low": got[1], "high": got[2]}


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
