"""The tree walker of SPEC 2: amplify one question with an overseer, a strategy and (optionally) ML.

The strategy hook decides, at each step that asks subquestions, which of them the overseer recurses
on; the others are answered by ML. Every overseer step is recorded as an Action and every node keeps
ML's answer, the adversary's score and the Gumbel draws that decided it."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from adversary.select import Choice, choose_full
from ida_cli.errors import IdaError
from ida_cli.overseer import Overseer
from ida_cli.store.db import now
from ida_cli.tasks.base import JSON, UNKNOWN, Answer, Ask, Step, Task, canonical
from ida_cli.tree import Action, Node, Tree

DEFAULT_MAX_DEPTH = 200


class WalkError(IdaError):
    pass


@dataclass
class Decision:
    """What the strategy decided for one step's subquestions, with what it saw."""

    choice: Choice
    ml_answers: list[JSON] = field(default_factory=list)  # empty when ML was not consulted
    ml_logps: list[float | None] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)


class Strategy(Protocol):
    name: str

    def decide(self, context: JSON, questions: tuple[JSON, ...], rng: np.random.Generator) -> Decision: ...


class FullStrategy:
    """Pure HCH: the overseer recurses on every subquestion."""

    name = "full"

    def decide(self, context: JSON, questions: tuple[JSON, ...], rng: np.random.Generator) -> Decision:
        return Decision(choose_full(len(questions)))


@dataclass
class Walker:
    task: Task
    overseer: Overseer
    strategy: Strategy
    rng: np.random.Generator
    max_depth: int = DEFAULT_MAX_DEPTH

    def walk(self, context: JSON, question: JSON, question_id: int | None = None) -> Tree:
        started = time.perf_counter()
        tree = Tree(
            task=self.task.name, context=context, root=Node(question=question), question_id=question_id
        )
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20 * self.max_depth + 1000))
        try:
            tree.root = self._amplify(tree, question, depth=0, step=0)
        finally:
            sys.setrecursionlimit(limit)
        # local ids in pre-order until the store gives global ones
        for number, node in enumerate(tree.root.walk(), 1):
            node.id = number
        if self.task.has_expert:
            for node in tree.root.walk():
                try:
                    node.truth, node.has_truth = self.task.truth(context, node.question), True
                except (KeyError, IndexError, TypeError, ValueError):
                    node.has_truth = False  # a question built from a malformed answer has no truth
        tree.seconds = time.perf_counter() - started
        return tree

    def _call(
        self, tree: Tree, node: Node, kind: str, step: int, transcript: list[tuple[JSON, JSON]]
    ) -> Step:
        at, t0 = now(), time.perf_counter()
        if kind == "fan_out":
            y = self.overseer.fan_out(tree.context, node.question)
        else:
            y = self.overseer.fan_in(tree.context, node.question, transcript)
        seconds = time.perf_counter() - t0
        result = {"answer": y.value} if isinstance(y, Answer) else {"ask": list(y.questions)}
        tree.actions.append(
            Action(node, self.overseer.actor, kind, step, node.primitive, result, at, seconds)
        )
        if self.overseer.actor != "model":
            tree.overseer_calls += 1
            tree.primitive_calls += node.primitive
        else:
            tree.model_calls += 1
        return y

    def _amplify(self, tree: Tree, question: JSON, depth: int, step: int) -> Node:
        node = Node(question=question, depth=depth, step=step, recursed=True)
        node.primitive = self.task.is_primitive(tree.context, question)
        y = self._call(tree, node, "fan_out", 0, [])
        transcript: list[tuple[JSON, JSON]] = []
        steps = 0
        key = canonical(question)
        while isinstance(y, Ask):
            steps += 1
            if any(canonical(sq) == key for sq in y.questions):
                raise WalkError(f"'{self.task.question_text(question)}' asked itself: it would loop")
            decision = self.strategy.decide(tree.context, y.questions, self.rng)
            for i, sq in enumerate(y.questions):
                child = self._child(tree, decision, i, sq, depth, steps - 1)
                node.children.append(child)
                transcript.append((sq, child.answer))
            y = self._call(tree, node, "fan_in", steps, transcript)
        node.answer = y.value
        node.by = self.overseer.actor
        return node

    def _child(self, tree: Tree, decision: Decision, i: int, sq: JSON, depth: int, step: int) -> Node:
        recurse = decision.choice.recurse[i] and depth + 1 <= self.max_depth
        if recurse:
            child = self._amplify(tree, sq, depth + 1, step)
        elif decision.ml_answers:
            child = Node(question=sq, answer=decision.ml_answers[i], by="model", depth=depth + 1, step=step)
        else:  # no ML to stand in (the depth guard with no model): "I don't know"
            child = Node(question=sq, answer=UNKNOWN, by="model", depth=depth + 1, step=step)
        child.recursed = recurse
        if decision.ml_answers:
            child.ml_answer = decision.ml_answers[i]
            child.ml_logp = decision.ml_logps[i]
            child.score = decision.scores[i]
        child.gumbel = decision.choice.gumbel[i]
        child.gumbel_threshold = decision.choice.threshold[i]
        if not recurse:
            child.primitive = self.task.is_primitive(tree.context, sq)
        return child
