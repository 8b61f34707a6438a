"""The overseer H behind one interface: the walker never knows who is answering."""

from __future__ import annotations

from typing import Protocol

from ida_cli.tasks.base import JSON, Step, Task, Transcript


class Overseer(Protocol):
    actor: str  # "scripted" | "human:NAME" | "model": stored on every step and node it answers

    def fan_out(self, context: JSON, question: JSON) -> Step: ...

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step: ...


class ScriptedOverseer:
    """The task's scripted expert (SPEC 4): reads primitives off the context, decomposes the rest."""

    actor = "scripted"

    def __init__(self, task: Task) -> None:
        self.task = task

    def fan_out(self, context: JSON, question: JSON) -> Step:
        return self.task.expert_fan_out(context, question)

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        return self.task.expert_fan_in(context, question, transcript)
