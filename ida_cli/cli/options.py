"""The Typer options that several commands share, declared once. The selection flags take their
defaults from `Selection` (walk/selection.py), so a default is written in one place."""

from __future__ import annotations

from typing import Any

import typer

from ida_cli.walk.selection import STRATEGIES, Selection

DEFAULT = Selection()
STRATEGY_HELP = f"Recursion strategy: {', '.join(STRATEGIES)}."


def strategy(default: Any = DEFAULT.strategy, help: str = STRATEGY_HELP) -> Any:
    return typer.Option(default, "--strategy", help=help)


def alpha(help: str = "Recursion threshold α (bernoulli, uncertainty).") -> Any:
    return typer.Option(DEFAULT.alpha, "--alpha", help=help)


def temperature(help: str = "Exploration temperature τ > 0 of the Gumbel draws.") -> Any:
    return typer.Option(DEFAULT.temperature, "--temperature", help=help)


def p(help: str = "Recursion probability for --strategy random.") -> Any:
    return typer.Option(DEFAULT.p, "--p", help=help)


def confidence(
    help: str = "Primed overseer threshold α' (S of ML's step, e.g. -0.1): ML's step stands in for the "
    "overseer's where the adversary is confident (uncertainty: where ML's log p of it is above α').",
) -> Any:
    return typer.Option(DEFAULT.confidence, "--confidence", help=help)


def prime_rate(
    help: str = "--strategy random's primed overseer: ML's step stands in for the overseer's with "
    "this probability (the adversary-free control; match it to an adversary run's rate).",
) -> Any:
    return typer.Option(DEFAULT.prime_rate, "--prime-rate", help=help)


def prime(
    help: str = "Prime the overseer by default (adversary, bernoulli, uncertainty at α' -0.15, once a "
    "model and an adversary exist); --no-prime: the real overseer at every step.",
) -> Any:
    return typer.Option(DEFAULT.prime, "--prime/--no-prime", help=help)


def seed(help: str = "Random seed for picks and Gumbel draws.") -> Any:
    return typer.Option(DEFAULT.seed, "--seed", help=help)


def memo_stand_ins(
    help: str = "Also answer from memory a subquestion left to ML that the expert already answered in "
    "the tree (a memo hit), instead of ML's answer.",
) -> Any:
    return typer.Option(False, "--memo-stand-ins", help=help)


def memo_primed(
    help: str = "Also remember the answers the primed overseer H' gave (ML's final step taken), not only "
    "the expert's.",
) -> Any:
    return typer.Option(False, "--memo-primed", help=help)
