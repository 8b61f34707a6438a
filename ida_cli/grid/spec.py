"""What a grid is: tasks x strategies x seeds, with experiment flags for every cell and per
strategy, read from a TOML file and/or the command line and checked, every cell of it, before any
cell starts.

A cell is one `ida experiment`. Its key names the task, strategy and seed and a digest of every
option in effect (defaults filled in), so a finished cell is recognised by its results file alone,
and a grid with other flags, or a later default, makes new cells instead of reusing old ones."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError

# an experiment's identity, not its flags; or housekeeping that does not change its curve
FIXED = ("task", "strategy", "seed")
NOT_FLAGS = ("pool", "keep_checkpoints", "device")
# what a grid cell is unless told otherwise: size 8 and a budget that the built-in tasks reach
# 95% within (bench/RESULTS.md); every other option is `ida experiment`'s default
GRID_DEFAULTS: dict[str, Any] = {"size": 8, "budget": 4000}
# a grid compares strategies: by default every amplified cell trains the adversary, so that each
# reports its AUROC (`ida experiment --audit`); `audit = false` in a strategy's flags saves its CPU
GRID_AUDIT = True
# flags added after cells were committed: at this default a flag is left out of a cell's key, so
# the finished cells keep theirs
LATE_DEFAULTS: dict[str, Any] = {
    "step_share": 1.0,
    "prime_error": None,
    "audit": True,
    "root_weight": 1,
    "memo_stand_ins": False,
    "memo_primed": False,
    "per_context": 8,
}


@dataclass(frozen=True)
class Cell:
    task: str
    strategy: str
    seed: int
    flags: dict[str, Any] = field(default_factory=dict)  # every option in effect but FIXED

    @property
    def key(self) -> str:
        digest = hashlib.sha256(json.dumps(self.effective(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.task}-{self.strategy}-seed{self.seed}-{digest}"

    def effective(self) -> dict[str, Any]:
        """The flags that can change the run, so that a later default of a flag the strategy never
        reads leaves the cell's key alone: `prime` only where it may fill in α' (a strategy primed
        by default, no threshold or rate given), τ only where a Gumbel draw reads it."""
        from ida_cli.walk.selection import AUTO_PRIMED, reads_temperature

        given = self.flags.get("confidence") is not None or self.flags.get("prime_rate") is not None
        unread = set()
        if self.strategy not in AUTO_PRIMED or given:
            unread.add("prime")
        if not reads_temperature(self.strategy, self.flags.get("confidence")):
            unread.add("temperature")
        unread |= {k for k, v in LATE_DEFAULTS.items() if self.flags.get(k) == v}
        if self.strategy == "supervised":  # no rounds; its rows are all questions' answers
            unread |= {"root_weight", "memo_primed"}
        if self.strategy in ("supervised", "full"):
            # nothing is left to ML (full HCH: only past the depth guard, which no tree reaches
            # since the walk stopped recursing into questions open on its own path)
            unread.add("memo_stand_ins")
        if self.strategy == "supervised" or self._options().reads_adversary():
            unread.add("audit")  # the adversary trains, or never does, whatever audit says
        return {k: v for k, v in self.flags.items() if k not in unread}

    def _options(self) -> Any:
        from ida_cli.experiment.options import ExperimentOptions

        given = {**GRID_DEFAULTS, **self.flags}
        return ExperimentOptions(task=self.task, strategy=self.strategy, seed=self.seed, **given)

    def path(self, results: Path) -> Path:
        """Its curve file: there once the cell is finished."""
        return results / f"{self.key}.json"

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "task": self.task,
            "strategy": self.strategy,
            "seed": self.seed,
            "options": self.flags,
        }

    def argv(self) -> list[str]:
        """`ida experiment`'s arguments for this cell (after `--db DB experiment`)."""
        out = ["--task", self.task, "--strategy", self.strategy, "--seed", str(self.seed)]
        for name, value in sorted(self.flags.items()):
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                if name in ("memo", "prime"):  # on by default: --memo / --no-memo
                    out.append(flag if value else f"--no-{name}")
                elif value:
                    out.append(flag)
            elif value is not None:
                out += [flag, repr(value) if isinstance(value, float) else str(value)]
        return out


@dataclass
class GridSpec:
    tasks: list[str]
    strategies: list[str]
    seeds: list[int]
    flags: dict[str, Any] = field(default_factory=dict)  # for every cell
    per_strategy: dict[str, dict[str, Any]] = field(default_factory=dict)
    # for one task's cells (a harder task needs a larger round or budget); a strategy's own flags
    # win over its task's
    per_task: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """Every cell, checked as `ida experiment` checks its flags; the first bad one is named."""
        from ida_cli.experiment.options import ExperimentOptions

        if not self.tasks or not self.strategies or not self.seeds:
            raise UsageError("a grid needs at least one task, one strategy and one seed")
        for name in self.per_strategy:
            if name not in self.strategies:
                raise UsageError(f"flags for strategy '{name}', which the grid does not run")
        for name in self.per_task:
            if name not in self.tasks:
                raise UsageError(f"flags for task '{name}', which the grid does not run")
        out = []
        # seeds outside strategies: a grid cut short has every strategy on its first seeds
        for task in self.tasks:
            for seed in self.seeds:
                for strategy in self.strategies:
                    given = {
                        **GRID_DEFAULTS,
                        **({"audit": GRID_AUDIT} if strategy != "supervised" else {}),
                        **self.flags,
                        **self.per_task.get(task, {}),
                        **self.per_strategy.get(strategy, {}),
                    }
                    opts = ExperimentOptions(task=task, strategy=strategy, seed=seed, **given)
                    try:
                        opts.check()
                    except UsageError as e:
                        raise UsageError(f"grid cell {task} {strategy} seed {seed}: {e}") from None
                    flags = {k: v for k, v in asdict(opts).items() if k not in (*FIXED, *NOT_FLAGS)}
                    out.append(Cell(task, strategy, seed, flags))
        return out


def option_types() -> dict[str, str]:
    """The grid's flags by name, with their annotations ("int | None", "bool", ...)."""
    from ida_cli.experiment.options import ExperimentOptions

    return {f.name: str(f.type) for f in fields(ExperimentOptions) if f.name not in (*FIXED, *NOT_FLAGS)}


def coerce(name: str, value: Any, where: str) -> Any:
    """A flag's value in the option's type; an unknown flag or a value of the wrong kind is named."""
    types = option_types()
    key = name.replace("-", "_")
    if key in FIXED:
        axis = {"task": "--tasks", "strategy": "--strategies", "seed": "--seeds"}[key]
        raise UsageError(f"{where}: {key} is an axis of the grid, not a flag: use {axis}")
    if key not in types:
        raise UsageError(f"{where}: unknown experiment flag '{name}' (flags: {', '.join(sorted(types))})")
    kind = types[key]
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("none", "null", ""):
            if "None" not in kind:
                raise UsageError(f"{where}: {name} needs a value")
            return None
        if kind.startswith("bool"):
            if text.lower() not in ("true", "false"):
                raise UsageError(f"{where}: {name} is true or false, not '{value}'")
            return text.lower() == "true"
    try:
        if kind.startswith("bool"):
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {name} must be {kind.split(' ')[0]}, not {value!r}") from None


def seeds(text: str) -> list[int]:
    """ "1-5", "1,3,7" or "1-3,10" as a list of seeds."""
    out: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            out += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
        except ValueError:
            raise UsageError(f"--seeds: '{part.strip()}' is not a seed or a range like 1-5") from None
    if len(set(out)) != len(out):
        raise UsageError("--seeds names a seed twice")
    return out


def setting(text: str) -> tuple[str | None, str, str]:
    """`--set KEY=VALUE`, `--set STRATEGY:KEY=VALUE` or `--set TASK:KEY=VALUE` as (the strategy or
    task, or None; key; value)."""
    lhs, eq, value = text.partition("=")
    if not eq:
        raise UsageError(
            f"--set '{text}': use KEY=VALUE, STRATEGY:KEY=VALUE or TASK:KEY=VALUE, e.g. --set per_round=160"
        )
    strategy, colon, key = lhs.partition(":")
    return (strategy.strip(), key.strip(), value) if colon else (None, lhs.strip(), value)


def read_file(path: Path) -> dict[str, Any]:
    """A grid file (TOML): tasks, strategies, seeds (a list or "1-5"), [flags] for every cell,
    [task.NAME] for one task's cells and [strategy.NAME] for one strategy's."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read the grid file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path} is not a TOML grid file: {e}") from None
    known = {"tasks", "strategies", "seeds", "flags", "strategy", "task"}
    for key in data:
        if key not in known:
            raise UsageError(f"{path}: unknown key '{key}' (a grid file has {', '.join(sorted(known))})")
    for key in ("flags", "strategy", "task"):
        table = data.get(key, {})
        nested = key != "flags"
        if not isinstance(table, dict) or (nested and not all(isinstance(t, dict) for t in table.values())):
            raise UsageError(f"{path}: {key} is a table of flags, e.g. [{key}{'.NAME' if nested else ''}]")
    return data


def build(
    file: Path | None,
    tasks: list[str] | None,
    strategies: list[str] | None,
    seed_text: str | None,
    settings: list[str],
) -> GridSpec:
    """The grid of a file and the command line; the command line wins where both say."""
    data = read_file(file) if file is not None else {}
    where = str(file) if file is not None else "--set"
    raw_seeds = data.get("seeds", [])
    spec = GridSpec(
        tasks=tasks or list(data.get("tasks", [])),
        strategies=strategies or list(data.get("strategies", [])),
        seeds=seeds(seed_text)
        if seed_text
        else seeds(raw_seeds)
        if isinstance(raw_seeds, str)
        else list(raw_seeds),
        flags={k.replace("-", "_"): coerce(k, v, where) for k, v in data.get("flags", {}).items()},
        per_strategy={
            name: {k.replace("-", "_"): coerce(k, v, f"{where} [strategy.{name}]") for k, v in table.items()}
            for name, table in data.get("strategy", {}).items()
            # --strategies narrows the file's grid: its sections for the others stay unused
            if strategies is None or name in strategies
        },
        per_task={
            name: {k.replace("-", "_"): coerce(k, v, f"{where} [task.{name}]") for k, v in table.items()}
            for name, table in data.get("task", {}).items()
            if tasks is None or name in tasks  # as --strategies
        },
    )
    from ida_cli.tasks import BUILTIN, USER

    for text in settings:
        scope, key, value = setting(text)
        if scope is None:
            target = spec.flags
        elif scope in (*BUILTIN, USER):  # no strategy is named like a task
            target = spec.per_task.setdefault(scope, {})
        else:
            target = spec.per_strategy.setdefault(scope, {})
        target[key.replace("-", "_")] = coerce(key, value, f"--set {text}")
    return spec
