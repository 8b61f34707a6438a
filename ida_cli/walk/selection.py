"""The selection parameters, in one place: which recursion strategy a walk uses and how it draws.
`ida round`, `ida experiment` and `ida label` take these same flags, with these defaults
(ida_cli/cli/options.py builds the shared Typer options from them), and check them with one
`Selection.check()` before anything is written.

- strategy     which subquestion is recursed on (walk/strategies.py): adversary, bernoulli,
               uncertainty, random, full, none
- alpha  (α)   the recursion threshold of bernoulli and uncertainty
- temperature (τ) the Gumbel-max exploration temperature, > 0 (default 0.05: at τ = 1 the adversary
               barely selects, since S lies in [−1, 0]; bench/RESULTS.md)
- p            the recursion probability of random
- confidence (α') the primed overseer's threshold: ML's step stands in for the overseer's where the
               adversary's S for it is above α' (docs/spec.md §2.3); None: the overseer is H.
               `uncertainty` puts ML's own log p of its step for S (no adversary anywhere)
- prime        H' on by default: where neither --confidence nor --prime-rate is given, the
               adversary, bernoulli and uncertainty strategies prime at α' = DEFAULT_CONFIDENCE once
               what H' decides by exists (`resolve_priming`); --no-prime keeps the overseer H
- prime_rate   random's primed overseer: ML's step stands in with this probability (the
               adversary-free control, at a rate matched to an adversary run's)
- seed         every draw of the walk comes from generators seeded with it
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ida_cli import checks
from ida_cli.errors import UsageError

# numpy-free, so that the command line can build its options without loading it
STRATEGIES = ("adversary", "bernoulli", "uncertainty", "random", "full", "none")
THRESHOLD_STRATEGIES = ("bernoulli", "uncertainty")  # the strategies that read --alpha
# what the primed overseer H' decides by, per strategy (docs/spec.md §2.3): a baseline never reads
# the adversary; the others by its S of ML's step
PRIMER = {"uncertainty": "uncertainty", "random": "rate"}


# the strategies primed by default, and their α' (the wildcard grids' best, bench/RESULTS.md)
AUTO_PRIMED = ("adversary", "bernoulli", "uncertainty")
DEFAULT_CONFIDENCE = -0.15
DEFAULT_TEMPERATURE = 0.05


def reads_temperature(strategy: str | None, confidence: float | None) -> bool:
    """Whether any Gumbel draw reads τ: the strategies that draw, or H' with a threshold."""
    return strategy in AUTO_PRIMED or confidence is not None


def primer(strategy: str | None) -> str:
    """ "adversary" (Adv's S of ML's step), "uncertainty" (ML's log p of it) or "rate" (a fixed
    probability)."""
    return PRIMER.get(strategy or "", "adversary")


@dataclass
class Selection:
    strategy: str | None = "full"  # None: decided later (`ida label`: the open round's)
    alpha: float | None = None
    temperature: float = DEFAULT_TEMPERATURE
    p: float | None = None
    confidence: float | None = None
    seed: int = 0
    prime_rate: float | None = None
    prime: bool = True

    def resolve_priming(self, has_ml: bool, scores_steps: bool) -> None:
        """Fill in the default α' where priming is on, no threshold or rate was given, and what H'
        decides by exists (uncertainty: a model; adversary, bernoulli: one that scores ML's steps)."""
        if not self.prime or self.confidence is not None or self.prime_rate is not None:
            return
        if self.strategy in AUTO_PRIMED and has_ml and (self.strategy == "uncertainty" or scores_steps):
            self.confidence = DEFAULT_CONFIDENCE

    def priming(self) -> tuple[str, float | None]:
        """What H' decides by (walk/overseer.py `primer`) and its threshold or rate; None: no H'."""
        by = primer(self.strategy)
        return by, self.prime_rate if by == "rate" else self.confidence

    def check(self, also: tuple[str, ...] = ()) -> None:
        """Refuse values that make no sense, naming the flag; `also`: further strategy names the
        caller accepts (the experiment's supervised baseline)."""
        if self.strategy is not None and self.strategy not in (*STRATEGIES, *also):
            extra = "".join(f" or {a}" for a in also)
            raise UsageError(f"unknown strategy '{self.strategy}': use one of {', '.join(STRATEGIES)}{extra}")
        check_temperature(self.temperature)
        if self.alpha is not None and self.strategy not in THRESHOLD_STRATEGIES:
            raise UsageError(f"--alpha applies to --strategy bernoulli or uncertainty, not {self.strategy}")
        for name, value in (("--alpha", self.alpha), ("--confidence", self.confidence)):
            if value is not None and not math.isfinite(value):
                raise UsageError(f"{name} must be a finite number")
        if not self.prime and (self.confidence is not None or self.prime_rate is not None):
            flag = "--confidence" if self.confidence is not None else "--prime-rate"
            raise UsageError(f"--no-prime keeps the overseer H: leave out {flag}")
        if self.strategy == "random" and self.confidence is not None:
            raise UsageError(
                "--strategy random primes the overseer at a fixed rate, never by a score: use "
                "--prime-rate instead of --confidence"
            )
        if self.prime_rate is not None and self.strategy != "random":
            raise UsageError(f"--prime-rate applies to --strategy random only, not {self.strategy}")
        if self.prime_rate is not None and not 0 <= self.prime_rate <= 1:
            raise UsageError("--prime-rate must be between 0 and 1")
        if self.p is not None and self.strategy != "random":
            raise UsageError("--p applies to --strategy random only")
        if self.p is not None and not 0 <= self.p <= 1:
            raise UsageError("--p must be between 0 and 1")
        checks.seed(self.seed)


def check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise UsageError("--temperature must be greater than 0")
    if not math.isfinite(temperature):
        raise UsageError("--temperature must be a finite number")


def check_memo(memo: bool, stand_ins: bool, primed: bool) -> None:
    if stand_ins and not memo:
        raise UsageError("--memo-stand-ins answers from the overseer's memo: leave out --no-memo")
    if primed and not memo:
        raise UsageError("--memo-primed adds to the overseer's memo: leave out --no-memo")
