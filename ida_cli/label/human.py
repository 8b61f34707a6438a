"""The person as the walker's overseer: `HumanOverseer` replays an item's stored steps, then asks
the session for live ones; plus the control flow out of the walker and the step helpers."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from ida_cli.errors import ParseError
from ida_cli.store import label_actions as acts
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript, canonical
from ida_cli.walk.overseer import step_json
from ida_cli.walk.strategies import Choice


class Session(Protocol):
    """What the overseer needs of the label session (`label.session.LabelSession`)."""

    task: Task
    strategy: str
    opts: Any  # LabelOptions: its annotator

    def live(
        self, overseer: HumanOverseer, kind: str, context: JSON, question: JSON, transcript: Transcript
    ) -> Step: ...

    def void(self, stale: list[acts.StoredAction]) -> None: ...


MAX_SUBQUESTIONS = 2
MEANING = {
    "adversary": "S is the adversary's guess of ML's loss: near 0, ML is likely right; near −1, likely "
    "wrong. The lower S, the likelier a subquestion comes to you.",
    "uncertainty": "log p is ML's confidence in its answer: the lower, the likelier a subquestion "
    "comes to you.",
}
MEANING["bernoulli"] = MEANING["adversary"]
PICKERS = {"adversary": "the adversary", "bernoulli": "the adversary", "uncertainty": "ML's uncertainty"}


# -- control flow out of the walker ----------------------------------------------------------------
class Quit(Exception):
    pass


class Skip(Exception):
    pass


class Reclaimed(Exception):
    """The item was given to another annotator while this session was away (its claim went stale)."""


class Restart(Exception):
    """Walk the item again from its root, replaying what is stored (after an undo)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Frame:
    """A node on the walker's current path."""

    question: JSON
    fan_ins: int = 0
    asked: tuple[JSON, ...] = ()
    ml_answers: list[JSON] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # who answered each transcript entry
    pending: deque[tuple[str, list[str]]] = field(default_factory=deque)  # recursed children's notes
    decision: list[str] = field(default_factory=list)  # what was decided about this node's siblings


class HumanOverseer:
    """The Overseer protocol for a person: replays the item's stored steps in order, then asks."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.actor = acts.actor_of(session.opts.annotator)
        self.stack: list[Frame] = []
        self.replay: deque[acts.StoredAction] = deque()
        self.taken: list[int] = []  # action ids of this walk's steps, in the walker's order

    def begin(self, replay: list[acts.StoredAction]) -> None:
        self.stack, self.replay, self.taken = [], deque(replay), []

    # the walker's calls
    def fan_out(self, context: JSON, question: JSON) -> Step:
        parent = self.stack[-1] if self.stack else None
        frame = Frame(question)
        if parent is not None and parent.pending and parent.pending[0][0] == canonical(question):
            frame.decision = parent.pending.popleft()[1]
        self.stack.append(frame)
        return self._step("fan_out", context, question, [])

    def fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        frame = self.stack[-1]
        frame.fan_ins += 1
        frame.decision = []
        return self._step("fan_in", context, question, transcript)

    def _step(self, kind: str, context: JSON, question: JSON, transcript: Transcript) -> Step:
        frame = self.stack[-1]
        y = self._replayed(kind, question, transcript)
        if y is None:
            y = self.session.live(self, kind, context, question, transcript)
        if isinstance(y, Ask):
            frame.asked, frame.ml_answers = y.questions, []
        else:
            self.stack.pop()
        return y

    def _replayed(self, kind: str, question: JSON, transcript: Transcript) -> Step | None:
        if not self.replay:
            return None
        act = self.replay[0]
        note = act.note
        fits = (
            act.kind == kind
            and canonical(note.get("node")) == canonical(question)
            and (kind == "fan_out" or canonical(note.get("transcript")) == canonical(pairs(transcript)))
        )
        if not fits:
            self.session.void(list(self.replay))
            self.replay.clear()
            return None
        self.replay.popleft()
        self.taken.append(act.id)
        result = act.result
        return Answer(result["answer"]) if "answer" in result else Ask(tuple(result["ask"]))

    # what the walker decided at the current node
    def seen_answers(self, answers: list[tuple[JSON, float]]) -> None:
        if self.stack:
            self.stack[-1].ml_answers = [a for a, _ in answers]

    def seen_choice(
        self, choice: Choice, scores: list[float | None], chances: list[float] | None = None
    ) -> None:
        if not self.stack:
            return
        frame, task = self.stack[-1], self.session.task
        asked, ml = frame.asked, frame.ml_answers
        k = len(choice.recurse)
        if len(asked) != k:
            return

        strategy = self.session.strategy
        name = "log p" if strategy == "uncertainty" else "S"

        def s(i: int) -> str:
            v = scores[i] if i < len(scores) else None
            shown = [] if v is None else [f"{name} {v:+.2f}"]
            if chances is not None and i < len(chances) and strategy != "full":
                shown.append(f"{chances[i]:.0%} chance of coming to you")
            return f" ({', '.join(shown)})" if shown else ""

        for i in range(k):
            if choice.recurse[i]:
                frame.sources.append("by you")
            else:
                frame.sources.append("by ML" + s(i))
        picker = PICKERS.get(strategy, f"the {strategy} rule")
        for i in range(k):
            if not choice.recurse[i]:
                continue
            lines = []
            if k == 2 and sum(choice.recurse) == 1:
                lines.append(f"{picker} picked this one of your two subquestions" + s(i))
            for j in range(k):
                if j == i:
                    continue
                qt = task.question_text(asked[j])
                if not choice.recurse[j]:
                    a = ml[j] if j < len(ml) else UNKNOWN
                    lines.append(f"ML answers the other, {qt} → {task.answer_text(asked[j], a)}" + s(j))
                elif j > i:
                    lines.append(f"you answer {qt} after this one")
            if lines and strategy in MEANING:
                lines.append(MEANING[strategy])
            frame.pending.append((canonical(asked[i]), lines))


def pairs(transcript: Transcript) -> list[list[JSON]]:
    return [[q, a] for q, a in transcript]


def describe(task: Task, question: JSON, result: JSON) -> str:
    """A stored step {"answer": A} / {"ask": [...]} (or a Step) in words."""
    if isinstance(result, Answer | Ask):
        result = step_json(result)
    if "answer" in result:
        return f"answer {task.answer_text(question, result['answer'])}"
    return "ask " + " ; ".join(task.question_text(q) for q in result["ask"])


def parse_ask(task: Task, text: str, question: JSON, context: JSON, avoid: list[JSON]) -> Ask:
    """Typed subquestions ("Q1 ; Q2"); a loop back to the question or one above it is refused."""
    parts = [p.strip() for p in text.split(";")]
    if parts and not parts[-1] and len(parts) > 1:
        parts.pop()  # a trailing ';'
    if not any(parts):
        raise ParseError("empty subquestion: type one, or two separated by ';' (Esc cancels)")
    if len(parts) > MAX_SUBQUESTIONS:
        raise ParseError(
            f"{len(parts)} subquestions: a step asks one or two; ask the rest after their answers come back"
        )
    out = []
    keys = {canonical(q): i for i, q in enumerate(avoid)}
    for part in parts:
        if not part:
            raise ParseError("empty subquestion between ';': type one, or two separated by ';'")
        sq = task.parse_question(part, context)
        if canonical(sq) == canonical(question):
            raise ParseError(f"'{part}' is the question itself: asking it would loop; ask something smaller")
        if canonical(sq) in keys:
            raise ParseError(f"'{part}' is a question above this one in the tree: asking it would loop")
        out.append(sq)
    return Ask(tuple(out))
