"""The selection parameters, in one place: which recursion strategy a walk uses and how it draws.
`ida round`, `ida experiment` and `ida label` take these same flags, with these defaults
(ida_cli/cli/options.py builds the shared Typer options from them), and check them with one
`Selection.check()` before anything is written.

- strategy     which subquestion is recursed on (walk/strategies.py): adversary, bernoulli,
               uncertainty, random, full, none
- alpha  (α)   the recursion threshold of bernoulli and uncertainty
- temperature (τ) the Gumbel-max exploration temperature, > 0
- p            the recursion probability of random
- confidence (α') the primed overseer's threshold: ML's step stands in for the overseer's where the
               adversary's S for it is above α' (docs/spec.md §2.3); None: the overseer is H
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


@dataclass
class Selection:
    strategy: str | None = "full"  # None: decided later (`ida label`: the open round's)
    alpha: float | None = None
    temperature: float = 1.0
    p: float | None = None
    confidence: float | None = None
    seed: int = 0

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
