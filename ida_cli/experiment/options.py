"""What an experiment is asked to do (`ExperimentOptions`, checked before anything is written), and
which of its flags a resumed experiment may change."""

from __future__ import annotations

from dataclasses import dataclass

from ida_cli.errors import UsageError
from ida_cli.model.device import check as check_device
from ida_cli.tasks import BUILTIN, get_task
from ida_cli.walk.selection import DEFAULT_TEMPERATURE, Selection, check_memo

PHASES = ("round", "model", "adversary", "eval")
# online: ML and the adversary train on across cycles (ida_cli/experiment/online.py); cycles: both
# from scratch every cycle, the unbiased comparison of strategies at equal training
SCHEDULES = ("online", "cycles")
# the online schedule's default step share: wildcard and unionfind (5 seeds each) kept their calls
# and accuracy at less CPU a cycle, about half on unionfind (bench/topics/experiments.md)
ONLINE_STEP_SHARE = 0.5


def default_share(schedule: str) -> float:
    """The step share a schedule trains with when none is given (the cycles schedule never thins)."""
    return ONLINE_STEP_SHARE if schedule == "online" else 1.0


@dataclass
class ExperimentOptions:
    task: str
    size: int
    strategy: str
    budget: int
    seed: int
    # 160: at 40 a cycle the online learner starves (wildcard: 86.0% after 20 cycles against 95% at
    # cycle 5 with 160; bench/topics/experiments.md)
    per_round: int = 160
    train_minutes: float = 1.0
    adversary_minutes: float = 0.5
    eval_questions: int = 400
    pool: int = 20000
    # training questions drawn to a context, for the pool and supervised learning's labels. ML reads
    # the context, so its variety may matter: supervised permutation reached 95% from 300,000
    # questions 4 a context, and not from 51,200 at 8 (bench/topics/experiments.md)
    per_context: int = 8
    curriculum: bool = False
    alpha: float | None = None
    temperature: float = DEFAULT_TEMPERATURE
    p: float | None = None
    # α' of the primed overseer H' (docs/spec.md §2.3) once an adversary exists
    confidence: float | None = None
    # random's H': ML's step stands in with this probability (the adversary-free control)
    prime_rate: float | None = None
    prime: bool = True  # the default α' once an adversary exists (walk/selection.py)
    # stop after this many cycles even with budget left: a primed overseer may spend a few calls a
    # cycle, and a run that never spends its budget must still end
    max_cycles: int | None = None
    # stop once the eval accuracy reaches this (besides the budget); it decides only when the run
    # ends, so a resumed experiment may change it
    until: float | None = None
    # each cycle's ML from the last one's weights and optimizer state. Off by default: it generalises
    # worse (wildcard, 20 cycles, seed 11: 85.5% warm against 91.0% fresh; bench/topics/experiments.md)
    warm_start: bool = False
    # step budgets instead of the time ones: a curve that does not depend on the machine's load (a
    # 30-s cycle on a machine shared with a test run got half its steps; held-out 92.8% fell to 54.5%)
    train_steps: int | None = None
    adversary_steps: int | None = None
    # delete all but the newest N checkpoints of each kind after every cycle (`ida prune --keep N`);
    # a 20-cycle wildcard run wrote 265 MB of them. Not part of the run's identity: it may change
    # on resume
    keep_checkpoints: int | None = None
    bucket: bool = False  # ML's batches of similar lengths (`ida train model --bucket`)
    memo: bool = True  # the memoizing overseer in the rounds (`ida round --memo`)
    memo_stand_ins: bool = False  # ... also for the subquestions left to ML (`ida round --memo-stand-ins`)
    memo_primed: bool = False  # ... also keeping the primed overseer's answers (`ida round --memo-primed`)
    schedule: str = "online"
    ema_horizon: int = 100  # online: the teacher's horizon in ML steps (learn/continual.py)
    # online: the chance that a drawn fan-out or fan-in row stays in ML's batch (learn/continual.py);
    # None: ONLINE_STEP_SHARE on the online schedule (the cycles schedule never thins)
    step_share: float | None = None
    # online: each amplified tree's root answer this many times in ML's replay (Rows.weighted);
    # 1: every row once, as before
    root_weight: int = 1
    # online: α' chosen after every adversary fit so that a 95% upper bound on the held-out error
    # rate of the steps H' takes is at most this (experiment/priming.py); None: a fixed α'
    prime_error: float | None = None
    # online: training questions walked by ML in every role each cycle (docs/spec.md §2.4), their
    # root answers kept as targets where the adversary is confident (P(wrong) <= 1 - this), in a
    # FIFO replay beside the overseer's rows: amplified targets at zero overseer calls
    distill: int = 0
    distill_confidence: float = 0.9
    # questions of the first round, before any model exists (None: --per-round): that round is full
    # HCH whatever the strategy, and later rounds cost little once H' stands in (wildcard: 1,036 of
    # the 1,126 calls at 95% went to a 160-question first round; bench/topics/experiments.md)
    bootstrap: int | None = None
    # where ML and the adversary train and decode (model/device.py): auto takes a CUDA GPU when
    # torch sees one. Not part of the run's identity: a resumed run may move
    device: str = "auto"
    # train the adversary every cycle also where no choice of the run reads it (full, none, random,
    # uncertainty), to report its AUROC; a full round then has ML answer every child, the
    # adversary's data. Off, full HCH costs what full HCH is: the overseer's trees and ML's training
    audit: bool = False

    def share(self) -> float:
        """The step share in effect (`step_share`, or the schedule's default)."""
        return self.step_share if self.step_share is not None else default_share(self.schedule)

    def reads_adversary(self) -> bool:
        """Whether a choice of the run reads the adversary: the strategy selects by it, H' is primed
        by it, or distillation keeps the answers it trusts."""
        from ida_cli.walk.selection import AUTO_PRIMED, primer

        if self.strategy in ("adversary", "bernoulli") or self.distill:
            return True
        primed = (
            self.confidence is not None
            or self.prime_error is not None
            or (self.prime and self.strategy in AUTO_PRIMED)
        )
        return primed and primer(self.strategy) == "adversary"

    def trains_adversary(self) -> bool:
        return self.strategy != "supervised" and (self.audit or self.reads_adversary())

    def round_ml(self) -> bool:
        """Whether a round needs ML: it stands in for H (every strategy but full), its answers are
        the adversary's data, or the curriculum compares them with the overseer's."""
        return self.strategy != "full" or self.trains_adversary() or self.curriculum

    def selection(self) -> Selection:
        return Selection(
            self.strategy,
            self.alpha,
            self.temperature,
            self.p,
            self.confidence,
            self.seed,
            self.prime_rate,
            self.prime,
        )

    def check(self) -> None:
        if self.task not in BUILTIN:
            get_task(self.task)
            raise UsageError(f"task {self.task} has no scripted expert: experiments need a built-in task")
        get_task(self.task).check_size(self.size)
        self.selection().check(also=("supervised",))
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown --schedule '{self.schedule}': use online or cycles")
        if self.step_share is not None and not 0.0 < self.step_share <= 1.0:
            raise UsageError(f"--step-share must be in (0, 1], e.g. 0.5, not {self.step_share}")
        if self.step_share is not None and self.step_share < 1.0 and self.schedule != "online":
            raise UsageError(
                "--step-share thins the online schedule's batches: leave it out with --schedule cycles"
            )
        if self.root_weight < 1:
            raise UsageError(
                f"--root-weight must be a whole number of copies, at least 1, not {self.root_weight}"
            )
        if self.root_weight > 1 and self.schedule != "online":
            raise UsageError(
                "--root-weight weighs the online schedule's replay: leave it out with --schedule cycles"
            )
        if self.prime_error is not None:
            self._check_prime_error(self.prime_error)
        check_memo(self.memo, self.memo_stand_ins, self.memo_primed)
        if self.ema_horizon < 1:
            raise UsageError("--ema-horizon must be at least 1 (1: the teacher is the student)")
        if self.schedule == "online" and self.warm_start:
            raise UsageError("--warm-start is for --schedule cycles: the online schedule never restarts")
        if self.distill < 0:
            raise UsageError("--distill must be 0 (off) or a number of training questions a cycle")
        if self.distill and (self.schedule != "online" or self.strategy == "supervised"):
            raise UsageError("--distill adds targets to the online schedule's amplified training")
        if not 0.0 < self.distill_confidence <= 1.0:
            raise UsageError("--distill-confidence must be in (0, 1], e.g. 0.9")
        if self.bootstrap is not None and self.bootstrap < 1:
            raise UsageError("--bootstrap must be at least 1 (or left out: --per-round)")
        if self.per_round < 1:
            raise UsageError("--per-round must be at least 1")
        if self.per_context < 1:
            raise UsageError("--per-context must be at least 1")
        if self.budget < self.per_round:
            raise UsageError(
                f"--budget {self.budget} is smaller than one round ({self.per_round} questions, "
                "each costing at least one overseer call): raise --budget or lower --per-round"
            )
        if self.keep_checkpoints is not None and self.keep_checkpoints < 1:
            raise UsageError("--keep-checkpoints must be at least 1 (or left out to keep every checkpoint)")
        if self.until is not None and not 0 < self.until <= 1:
            raise UsageError(f"--until must be an accuracy in (0, 1], not {self.until}")
        if self.max_cycles is not None and self.max_cycles < 1:
            raise UsageError("--max-cycles must be at least 1")
        for flag, steps in (("--train-steps", self.train_steps), ("--adversary-steps", self.adversary_steps)):
            if steps is not None and steps < 1:
                raise UsageError(f"{flag} must be at least 1 (or left out to train for the minutes given)")
        if self.audit and self.strategy == "supervised":
            raise UsageError(
                "--audit trains the adversary on amplified trees: the supervised baseline has none"
            )
        if self.confidence is not None and self.strategy == "supervised":
            raise UsageError("--confidence primes the overseer of a round: the supervised baseline has none")
        check_device(self.device)  # torch only for a CUDA name

    def _check_prime_error(self, value: float) -> None:
        from ida_cli.walk.selection import AUTO_PRIMED

        if not 0.0 < value < 1.0:
            raise UsageError(f"--prime-error must be an error rate in (0, 1), e.g. 0.05, not {value}")
        if self.strategy not in AUTO_PRIMED:
            raise UsageError(
                f"--prime-error chooses the α' of a primed strategy ({', '.join(AUTO_PRIMED)}), "
                f"not {self.strategy}"
            )
        if self.confidence is not None or not self.prime:
            flag = "--confidence" if self.confidence is not None else "--no-prime"
            raise UsageError(f"--prime-error chooses α' each cycle: leave out {flag}")
        if self.schedule != "online":
            raise UsageError(
                "--prime-error follows the online schedule's adversary: leave out --schedule cycles"
            )


EXTENDABLE = ("budget", "max_cycles")  # --extend may raise these on a resumed experiment
FREE = ("keep_checkpoints", "until", "device")  # housekeeping: a resumed experiment takes the new value
# what a flag added since an experiment started counts as when that experiment resumes (else its
# dataclass default): experiments before the online schedule ran in cycles
# experiments before --audit trained the adversary whatever the strategy
BEFORE: dict[str, object] = {"schedule": "cycles", "step_share": 1.0, "audit": True}


def before(flags: dict[str, object]) -> dict[str, object]:
    """What a flag missing from an older experiment's stored flags counts as: BEFORE, and `prime`
    on only where that experiment gave a threshold or a rate (there was no default priming)."""
    return {**BEFORE, "prime": flags.get("confidence") is not None or flags.get("prime_rate") is not None}
