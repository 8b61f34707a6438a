"""The overseer H behind one interface: the walker never knows who is answering.

A scripted or human overseer answers synchronously. A batched one (ML imitating H, SPEC 2.4) yields
its model calls as requests instead, so that they join the batch of the whole frontier; it says so
with `batched = True`."""

from __future__ import annotations

from typing import Protocol

from ida_cli.errors import IdaError
from ida_cli.tasks.base import JSON, UNKNOWN, Answer, Ask, Step, Task, Transcript, canonical
from ida_cli.walk_driver import Co, Request

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
    """The task's scripted expert (SPEC 4): reads primitives off the context, decomposes the rest."""

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
        try:
            if isinstance(y, Answer):
                ok = y.value == UNKNOWN or self.task.answer_ok(question, y.value, context)
                return y if ok else Answer(UNKNOWN)
            if not isinstance(y, Ask):
                return Answer(UNKNOWN)
            key = canonical(question)
            for sq in y.questions:
                if canonical(sq) == key:
                    return Answer(UNKNOWN)
                self.task.check_question(sq, context)
        except (IdaError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            return Answer(UNKNOWN)  # the task's validators reject it: a malformed step
        return y
