"""The tree walker of docs/spec.md §2: amplify questions with an overseer, a strategy and (optionally) ML.

At each step that asks subquestions, ML (when there is one) answers them and the adversary (when
there is one) scores its answers, batched over the whole frontier of many trees (walk/frontier.py); the
strategy then decides which subquestions the overseer recurses on, and ML's answers stand for the
others. Every overseer step is recorded as an Action and every node keeps ML's answer, the score and
the Gumbel draws that decided it. Each tree draws from its own generator, derived from the walker's
seed and the tree's question id (or position), so a tree never depends on what it was walked with.

With a confidence threshold α' the overseer is the primed H' (docs/spec.md §2.3): at each fan-out
and fan-in ML proposes the step, the adversary scores it, and ML's step stands in where
S + τ·G > α' + τ·G'; only the real overseer's steps are overseer calls. `prime_by` "uncertainty"
puts ML's own log p of the step for S, and "rate" takes the step with probability α' (the
adversary-free baselines). With an α schedule
(`strategy_at`) tree number i of the walk uses the strategy built for i, so its α depends on its
position alone, never on interleaving."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, cast

import numpy as np

from ida_cli.errors import IdaError, UsageError
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Action, Answer, Ask, Node, Step, Tree, canonical
from ida_cli.walk.frontier import Co, Frontier, Job, Request
from ida_cli.walk.overseer import (
    MODEL_MAX_SUBQUESTIONS,
    BatchedOverseer,
    Overseer,
    primed_step,
)
from ida_cli.walk.ports import ML, Scorer, StepScorer, require, require_primer
from ida_cli.walk.selection import check_temperature
from ida_cli.walk.strategies import Choice, FullStrategy, Strategy

DEFAULT_MAX_DEPTH = 200
# trees walked at once: ML's batches grow with it. A shortpath round of 320 questions took 1.36x
# less CPU at 256 than at 64 (2.3x less than at 16), with the same trees (each draws from its own
# question's generator); all 320 at once gained nothing more (bench/probes/concurrency.py)
DEFAULT_CONCURRENCY = 256
# A tree in which ML stands in for the overseer is bounded well above the scripted experts' trees
# (at most ~20 deep and ~600 nodes at size 64) but far below runaway size: H' asks ML for steps
# only while a tree has fewer nodes than this (then H' is H), and the distillation walk stops here.
MODEL_TREE_MAX_NODES = 2000
PRIMED_MAX_NODES = MODEL_TREE_MAX_NODES
__all__ = ["FullStrategy", "Strategy", "WalkError", "Walker"]


class WalkError(IdaError):
    pass


@dataclass
class Decision:
    """What the strategy decided for one step's subquestions, with what it saw."""

    choice: Choice
    ml_answers: list[JSON] = field(default_factory=list)  # empty when ML was not consulted
    ml_logps: list[float | None] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)


@dataclass
class _Run:
    """One tree being walked."""

    tree: Tree
    rng: np.random.Generator
    job: Job
    strategy: Strategy
    nodes: int = 0
    path: list[str] = field(default_factory=list)  # canonical questions from the root to the node
    memo: dict[str, tuple[JSON, str]] = field(default_factory=dict)  # question → (answer, by)


@dataclass
class Walker:
    task: Task
    overseer: Overseer | BatchedOverseer
    strategy: Strategy
    seed: int = 0
    ml: ML | None = None
    scorer: Scorer | None = None
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int | None = None  # past this many nodes a tree recurses no further (ML answers)
    source: str = "round"
    batches: Counter[str] = field(default_factory=Counter)  # batched calls made, per kind
    queries: Counter[str] = field(default_factory=Counter)  # items in them, per kind
    walked: int = 0  # trees started: the position that seeds a tree without a question id
    # the strategy for tree number i of this walker (an annealed α); None: `strategy` for all
    strategy_at: Callable[[int], Strategy] | None = None
    confidence: float | None = None  # α' of the primed overseer H' (docs/spec.md §2.3); None: H' is H
    temperature: float = 1.0  # τ of H' (the strategies carry their own)
    prime_by: str = "adversary"  # what H' decides by: adversary, uncertainty or rate (walk/overseer.py)
    clock: Callable[[], datetime] = datetime.now  # when each action happened (the store's clock)
    # the memoizing overseer (docs/spec.md §2.3): a subquestion the overseer already answered in
    # this tree (the same context) gets that answer again without a call, counted as a memo hit.
    # Per tree, so a tree still depends on its own question alone, however trees are interleaved
    memo: bool = False
    # the memo also answers a subquestion the strategy left to ML, where the overseer has already
    # answered it in this tree: its answer is known and free, ML's may be wrong. Off by default, so
    # that the strategies' committed curves keep their meaning (ida_cli/grid/spec.py LATE_DEFAULTS)
    memo_stand_ins: bool = False
    # the memo also keeps the answers the primed overseer H' gave (ML's final step taken for the
    # overseer). Without them a primed walk re-walks every repeated question H' answered, and on
    # permutation the adversary strategy, which recurses on every lone subquestion, spent more
    # calls than full HCH with the memo (bench/RESULTS.md)
    memo_primed: bool = False

    def __post_init__(self) -> None:
        require(self.strategy.name, self.ml is not None, self.scorer is not None)
        self._batched = bool(getattr(self.overseer, "batched", False))
        if self._batched and self.ml is None:
            raise UsageError("a model overseer needs a trained model: run `ida train model` first")
        if self.confidence is not None:
            require_primer(self.prime_by, self.ml is not None, self.scorer)
            if self.prime_by == "rate" and not 0.0 <= self.confidence <= 1.0:
                raise UsageError("--prime-rate must be between 0 and 1")
            if self._batched:
                raise UsageError("the primed overseer stands in for a real overseer, not for a model one")
            check_temperature(self.temperature)

    def walk(self, context: JSON, question: JSON, question_id: int | None = None) -> Tree:
        return next(self.walk_many([(context, question, question_id)], concurrency=1))

    def walk_many(
        self, items: Iterable[tuple[JSON, JSON, int | None]], concurrency: int = DEFAULT_CONCURRENCY
    ) -> Frontier[Tree]:
        """Trees for (context, question, question_id) items, in input order, walked `concurrency`
        at a time with one batched ML call per kind per driver round. The result is an iterator;
        on Ctrl-C its `finished()` gives the trees done but not yet returned."""
        if concurrency < 1:
            raise UsageError("concurrency must be at least 1")

        def starts() -> Iterator[Callable[[Job], Co[Tree]]]:
            for context, question, qid in items:
                self.walked += 1
                yield partial(self._tree, context, question, qid, self.walked - 1)

        return Frontier(
            starts(),
            self._serve,
            concurrency,
            finish=_set_seconds,
            recursion_limit=20 * self.max_depth + 1000,
        )

    def _rng(self, question_id: int | None, position: int) -> np.random.Generator:
        # tag 1/0 keeps the question-id and position streams apart
        key = [1, question_id] if question_id is not None else [0, position]
        return np.random.default_rng([self.seed % 2**64, key[0], key[1] % 2**64])

    def _serve(self, kind: str, items: list[tuple[Any, ...]]) -> list[Any]:
        self.batches[kind] += 1
        self.queries[kind] += len(items)
        if kind == "score":  # items (context, question, answer, ML's log p of it)
            assert self.scorer is not None
            return list(self.scorer.score([i[:3] for i in items], [i[3] for i in items]))
        if kind in ("score_fan_out", "score_fan_in"):
            scorer = cast(StepScorer, self.scorer)
            return list(scorer.score_steps(kind.removeprefix("score_"), items))
        assert self.ml is not None
        if kind == "answer":
            return list(self.ml.answer(items))
        if kind == "fan_out":
            return list(self.ml.fan_out(items))
        if kind == "fan_in":
            return list(self.ml.fan_in(items))
        raise WalkError(f"unknown request kind {kind}")

    def _tree(self, context: JSON, question: JSON, qid: int | None, position: int, job: Job) -> Co[Tree]:
        tree = Tree(
            task=self.task.name,
            context=context,
            root=Node(question=question),
            question_id=qid,
            source=self.source,
        )
        strategy = self.strategy if self.strategy_at is None else self.strategy_at(position)
        run = _Run(tree, self._rng(qid, position), job, strategy)
        tree.root = yield from self._amplify(run, question, depth=0, step=0)
        # local ids in pre-order until the store gives global ones
        for number, node in enumerate(tree.root.walk(), 1):
            node.id = number
        if self.task.has_expert:
            for node in tree.root.walk():
                try:
                    node.truth, node.has_truth = self.task.truth(context, node.question), True
                except (KeyError, IndexError, TypeError, ValueError):
                    node.has_truth = False  # a question built from a malformed answer has no truth
        return tree

    def _call(
        self, run: _Run, node: Node, kind: str, step: int, transcript: list[tuple[JSON, JSON]]
    ) -> Co[tuple[Step, str]]:
        """The overseer's step at `node` and who made it: H, or with a confidence threshold H'."""
        tree, note = run.tree, None
        if (
            self.confidence is not None
            and run.nodes < PRIMED_MAX_NODES
            and len(transcript) < MODEL_MAX_SUBQUESTIONS
        ):
            at, served = self.clock(), run.job.served
            choice = yield from primed_step(
                self.task,
                kind,
                tree.context,
                node.question,
                transcript,
                self.confidence,
                self.temperature,
                run.rng,
                avoid=run.path,
                by=self.prime_by,
            )
            tree.model_calls += 1  # ML was queried, whether or not its step is taken
            if choice.take:
                y = choice.step
                tree.actions.append(
                    Action(
                        node,
                        "model",
                        kind,
                        step,
                        node.primitive,
                        _result(y),
                        at,
                        run.job.served - served,
                        choice.note(),
                    )
                )
                return y, "model"
            note = choice.note()
        at, t0 = self.clock(), time.perf_counter()
        if self._batched:
            batched = cast(BatchedOverseer, self.overseer)
            served = run.job.served
            if kind == "fan_out":
                y = yield from batched.fan_out(tree.context, node.question)
            else:
                y = yield from batched.fan_in(tree.context, node.question, transcript)
            seconds = run.job.served - served  # its share of the batch, not the wait for others
        else:
            overseer = cast(Overseer, self.overseer)
            if kind == "fan_out":
                y = overseer.fan_out(tree.context, node.question)
            else:
                y = overseer.fan_in(tree.context, node.question, transcript)
            seconds = time.perf_counter() - t0
        actor = self.overseer.actor
        tree.actions.append(Action(node, actor, kind, step, node.primitive, _result(y), at, seconds, note))
        if actor != "model":
            tree.overseer_calls += 1
            tree.primitive_calls += node.primitive
        else:
            tree.model_calls += 1
        return y, actor

    def _decide(self, run: _Run, questions: tuple[JSON, ...]) -> Co[Decision]:
        """ML's answers and their scores when there are an ML and an adversary (training data even
        where the strategy does not read them), then the strategy's choice."""
        k, context = len(questions), run.tree.context
        if self.ml is None:
            return Decision(run.strategy.choose(k, [], [None] * k, run.rng))
        replies = yield Request("answer", [(context, sq) for sq in questions])
        run.tree.model_calls += k
        answers = [a for a, _ in replies]
        logps: list[float | None] = [float(lp) for _, lp in replies]
        scores: list[float | None] = [None] * k
        if self.scorer is not None:
            got = yield Request(
                "score", [(context, sq, a, lp) for sq, (a, lp) in zip(questions, replies, strict=True)]
            )
            scores = [float(s) for s in got]
        return Decision(run.strategy.choose(k, logps, scores, run.rng), answers, logps, scores)

    def _amplify(self, run: _Run, question: JSON, depth: int, step: int) -> Co[Node]:
        run.nodes += 1
        node = Node(question=question, depth=depth, step=step, recursed=True)
        node.primitive = self.task.is_primitive(run.tree.context, question)
        key = canonical(question)
        run.path.append(key)
        y, by = yield from self._call(run, node, "fan_out", 0, [])
        transcript: list[tuple[JSON, JSON]] = []
        steps = 0
        while isinstance(y, Ask):
            steps += 1
            if any(canonical(sq) == key for sq in y.questions):
                raise WalkError(f"'{self.task.question_text(question)}' asked itself: it would loop")
            decision = yield from self._decide(run, y.questions)
            for i, sq in enumerate(y.questions):
                child = yield from self._child(run, decision, i, sq, depth, steps - 1)
                node.children.append(child)
                transcript.append((sq, child.answer))
            y, by = yield from self._call(run, node, "fan_in", steps, transcript)
        run.path.pop()
        node.answer = y.value
        node.by = by  # who gave the final answer: the overseer, or ML's step under H'
        if self.memo and (by != "model" or self.memo_primed) and node.answer != UNKNOWN:
            run.memo.setdefault(key, (node.answer, by))
        return node

    def _child(self, run: _Run, decision: Decision, i: int, sq: JSON, depth: int, step: int) -> Co[Node]:
        # a question already open on this path would make its own answer depend on itself: ML's
        # answer stands for it. Left to recurse, ML's wrong answers that close a cycle (unionfind:
        # parent x = y, parent y = x) ran trees to the depth guard, up to 1,882 nodes, and spent
        # 11-20% of the adversary strategy's overseer calls on unionfind (bench/RESULTS.md)
        recurse = (
            decision.choice.recurse[i]
            and canonical(sq) not in run.path
            and depth + 1 <= self.max_depth
            and (self.max_nodes is None or run.nodes < self.max_nodes)
        )
        reuse = self.memo and (recurse or self.memo_stand_ins)
        remembered = run.memo.get(canonical(sq)) if reuse else None
        if remembered is not None:
            child = Node(question=sq, answer=remembered[0], by=remembered[1], depth=depth + 1, step=step)
            child.primitive = self.task.is_primitive(run.tree.context, sq)
            run.tree.memo_hits += 1
        elif recurse:
            child = yield from self._amplify(run, sq, depth + 1, step)
        else:  # ML stands in; with no ML (the depth guard alone), "I don't know"
            answer = decision.ml_answers[i] if decision.ml_answers else UNKNOWN
            child = Node(question=sq, answer=answer, by="model", depth=depth + 1, step=step)
            child.primitive = self.task.is_primitive(run.tree.context, sq)
        child.recursed = recurse or remembered is not None  # False: ML's answer stands
        if decision.ml_answers:
            child.ml_answer = decision.ml_answers[i]
            child.ml_logp = decision.ml_logps[i]
            child.score = decision.scores[i]
        child.gumbel = decision.choice.gumbel[i]
        child.gumbel_threshold = decision.choice.threshold[i]
        return child


def _result(y: Step) -> JSON:
    return {"answer": y.value} if isinstance(y, Answer) else {"ask": list(y.questions)}


def _set_seconds(tree: Tree, job: Job) -> Tree:
    tree.seconds = job.seconds
    return tree
