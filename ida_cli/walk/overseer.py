"""The overseer H behind one interface: the walker never knows who is answering.

A scripted or human overseer answers synchronously. A batched one (ML imitating H, docs/spec.md §2.4) yields
its model calls as requests instead, so that they join the batch of the whole frontier; it says so
with `batched = True`. The primed overseer H' (docs/spec.md §2.3) is `primed_step`: ML's step stands in
for the real overseer's where the adversary is confident, or, for a baseline that must not read the
adversary, where ML's own log p is high (`uncertainty`) or at a fixed rate (`random`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

from ida_cli.errors import IdaError
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript, canonical
from ida_cli.walk.frontier import Co, Request

# An untrained model may keep asking at one node; a node that has had this many answers ends "?".
MODEL_MAX_SUBQUESTIONS = 64


class Overseer(Protocol):
    actor: str  # "scripted" | "human:NAME" | "model": stored on every step and node it answers

    def fan_out(self, context: JSON, question: JSON) -> Step: ...

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step: ...


class BatchedOverseer(Protocol):
    actor: str
    batched: bool  # True: fan_out and fan_in are coroutines run by the walk driver

    def fan_out(self, context: JSON, question: JSON) -> Co[Step]: ...

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Co[Step]: ...


class ScriptedOverseer:
    """The task's scripted expert (docs/spec.md §4): reads primitives off the context, decomposes the rest."""

    actor = "scripted"

    def __init__(self, task: Task) -> None:
        self.task = task

    def fan_out(self, context: JSON, question: JSON) -> Step:
        return self.task.expert_fan_out(context, question)

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        return self.task.expert_fan_in(context, question, transcript)


class ModelOverseer:
    """ML in the overseer's role (the distillation walk): each step is one item of a batched
    ML.fan_out / ML.fan_in call. Steps are counted as model calls, never as overseer calls.

    An untrained model says anything; a step that asks the question itself or a question that is not
    valid in the context, answers in the wrong form, or goes on asking past the limit, ends the node
    with "?" (the walk never fails on a model's output)."""

    actor = "model"
    batched = True

    def __init__(self, task: Task, max_subquestions: int = MODEL_MAX_SUBQUESTIONS) -> None:
        self.task = task
        self.max_subquestions = max_subquestions

    def fan_out(self, context: JSON, question: JSON) -> Co[Step]:
        [(y, _logp)] = yield Request("fan_out", [(context, question)])
        return self._checked(context, question, y)

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Co[Step]:
        if len(transcript) >= self.max_subquestions:
            return Answer(UNKNOWN)
        [(y, _logp)] = yield Request("fan_in", [(context, question, list(transcript))])
        return self._checked(context, question, y)

    def _checked(self, context: JSON, question: JSON, y: Step) -> Step:
        ok = valid_step(self.task, context, question, y)
        return Answer(UNKNOWN) if ok is None else ok


def valid_step(task: Task, context: JSON, question: JSON, y: Step) -> Step | None:
    """ML's imitation `y` of an overseer step at `question`, or None where it is not usable: not a
    step, an answer out of form, a subquestion that is the question itself or is not valid in the
    context. An Answer("?") passes (it is ML saying it does not know)."""
    try:
        if isinstance(y, Answer):
            ok = y.value == UNKNOWN or task.answer_ok(question, y.value, context)
            return y if ok else None
        if not isinstance(y, Ask):
            return None
        key = canonical(question)
        for sq in y.questions:
            if canonical(sq) == key:
                return None
            task.check_question(sq, context)
    except (IdaError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None  # the task's validators reject it: a malformed step
    return y


def step_json(y: Any) -> JSON:
    """A step as actions store it: {"answer": A} or {"ask": [SQ, ...]} (anything else as text)."""
    if isinstance(y, Answer):
        return {"answer": y.value}
    if isinstance(y, Ask):
        return {"ask": list(y.questions)}
    return {"invalid": repr(y)}


@dataclass(frozen=True)
class PrimedChoice:
    """H' at one step (docs/spec.md §2.3): ML's proposal and whether it stands in for the real overseer.

    `take` iff the proposal is usable and S + τ·G > α' + τ·G'; the draws are kept so that the
    decision reproduces from what is stored (the action's `note`)."""

    take: bool
    proposal: Any  # ML's step as it came
    score: float | None = None  # Adv.fan_out / Adv.fan_in of the proposal (None: not scored)
    gumbel: float | None = None  # G
    threshold: float | None = None  # G'
    invalid: bool = False  # malformed, "?", or asks the node's question or one of its ancestors'

    @property
    def step(self) -> Step:
        assert self.take
        return cast(Step, self.proposal)

    def note(self) -> dict[str, JSON]:
        """The JSON stored on the action that took the step: ML's, or the real overseer's after
        ML's proposal was refused (then with the proposal itself under "ml")."""
        out: dict[str, JSON] = {"primed": self.take}
        if self.invalid:
            out["invalid"] = True
        else:
            out.update(score=self.score, gumbel=self.gumbel, threshold=self.threshold)
        if not self.take:
            out["ml"] = step_json(self.proposal)
        return out


def primed_take(score: float, gumbel: float, threshold: float, confidence: float, temperature: float) -> bool:
    """docs/spec.md §2.3's rule: ML's step stands in iff S + τ·G > α' + τ·G', i.e. with probability
    sigmoid((S − α')/τ)."""
    return score + temperature * gumbel > confidence + temperature * threshold


def primed_step(
    task: Task,
    kind: str,
    context: JSON,
    question: JSON,
    transcript: Transcript,
    confidence: float,
    temperature: float,
    rng: np.random.Generator,
    avoid: Collection[str] = (),
    by: str = "adversary",
) -> Co[PrimedChoice]:
    """Ask ML for its `kind` step ("fan_out" or "fan_in") and decide by the Gumbel rule on its
    score: the adversary's (`by` "adversary", a batched request), ML's own log p of the step
    ("uncertainty"), or take it with probability `confidence` ("rate": the draw u is kept as the
    score, 0 as G and the rate as G'). A proposal that is not usable (see `valid_step`), says "?",
    or asks a question whose canonical form is in `avoid` (the node's ancestors: a loop) is refused
    without a score or a draw."""
    if kind == "fan_out":
        [(y, logp)] = yield Request("fan_out", [(context, question)])
    else:
        [(y, logp)] = yield Request("fan_in", [(context, question, list(transcript))])
    ok = valid_step(task, context, question, y)
    if (
        ok is None
        or (isinstance(ok, Answer) and ok.value == UNKNOWN)
        or (isinstance(ok, Ask) and any(canonical(sq) in avoid for sq in ok.questions))
    ):
        return PrimedChoice(False, y, invalid=True)
    if by == "rate":
        u = float(rng.random())
        return PrimedChoice(u < confidence, ok, u, 0.0, confidence)
    if by == "uncertainty":
        score = float(logp)
    else:
        shown = list(transcript) if kind == "fan_in" else []
        [score] = yield Request(f"score_{kind}", [(context, question, shown, ok)])
    g, g2 = (float(x) for x in rng.gumbel(size=2))
    take = primed_take(float(score), g, g2, confidence, temperature)
    return PrimedChoice(take, ok, float(score), g, g2)
