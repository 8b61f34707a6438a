"""What the walker needs of ML and the adversary, whatever network is behind them (the ports), and
the checks that refuse a strategy, the primed overseer or an adversary pick whose inputs are
missing, naming the command that makes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ida_cli.errors import UsageError
from ida_cli.vocabulary import JSON, Step, Transcript
from ida_cli.walk.strategies import NEEDS


class ML(Protocol):
    task: str
    version: int

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        """(context, question) pairs → (greedy answer, log p). A malformed output is "?"."""
        ...

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        """(context, question) pairs → ML's imitation of H.fan_out, with log p."""
        ...

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        """(context, question, transcript) triples → ML's imitation of H.fan_in, with log p."""
        ...


class Scorer(Protocol):
    """The adversary as the walker needs it: batched S for (context, question, ML's answer).
    `logps`, ML's log p of those answers where the caller has them, saves recomputing them."""

    def score(
        self, items: Sequence[tuple[JSON, JSON, JSON]], logps: Sequence[float] | None = None
    ) -> list[float]: ...


class StepScorer(Scorer, Protocol):
    """The adversary as H' needs it too: S for ML's fan-out / fan-in steps, items
    (context, question, transcript, step)."""

    def score_steps(self, mode: str, items: Sequence[tuple[JSON, JSON, Any, Any]]) -> list[float]: ...


def require(strategy: str, has_ml: bool, has_scorer: bool) -> None:
    """Refuse a strategy whose inputs are missing, naming the command that makes them."""
    needs = NEEDS.get(strategy, "")
    if needs == "model" and not has_ml:
        raise UsageError(
            f"--strategy {strategy} needs a trained model: run `ida train model` first "
            "(or use --strategy full)"
        )
    if needs == "adversary" and not has_ml:
        raise UsageError(
            f"--strategy {strategy} needs a trained model and adversary: run `ida train model`, "
            "then `ida train adversary` (or use --strategy full)"
        )
    if needs == "adversary" and not has_scorer:
        raise UsageError(
            f"--strategy {strategy} needs a trained adversary: run `ida train adversary` first "
            "(or use --strategy full)"
        )


def require_primed(what: str, has_ml: bool, scorer: Scorer | None) -> None:
    """Refuse H' or an adversary pick (`what` names the flag) without a model and an adversary."""
    if not has_ml:
        raise UsageError(
            f"{what} needs a trained model and adversary: run `ida train model`, then `ida train adversary`"
        )
    if scorer is None:
        raise UsageError(f"{what} needs a trained adversary: run `ida train adversary` first")


def require_primer(by: str, has_ml: bool, scorer: Scorer | None) -> None:
    """Refuse the primed overseer H' without what it decides by: ML always, and for `by`
    "adversary" an adversary that scores ML's steps (the baselines' H' reads ML alone)."""
    flag = "--prime-rate (the primed overseer)" if by == "rate" else "--confidence (the primed overseer)"
    if by != "adversary":
        if not has_ml:
            raise UsageError(f"{flag} needs a trained model: run `ida train model` first")
        return
    require_primed(flag, has_ml, scorer)
    if not callable(getattr(scorer, "score_steps", None)):
        raise UsageError("--confidence needs an adversary that scores ML's steps: run `ida train adversary`")
