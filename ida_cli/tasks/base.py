"""The Task protocol: generation, ground truth, the scripted expert, text forms and parsers.

Questions, answers and contexts are plain JSON values (docs/spec.md §6.1), so they store, export and compare
without conversion. Text forms are one line of space-separated tokens: readable for people and small
vocabularies for the model. Every question's text starts with a kind word (`pow 3 5`, `value v5`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ida_cli.errors import ParseError, UsageError
from ida_cli.vocabulary import JSON, UNKNOWN, Ask, Step, Transcript, canonical

MIN_SIZE, MAX_SIZE = 8, 64


class Task(ABC):
    name: str = ""
    summary: str = ""
    has_expert: bool = True
    min_size: int = MIN_SIZE
    max_size: int = MAX_SIZE

    def check_size(self, size: int) -> None:
        if not self.min_size <= size <= self.max_size:
            raise UsageError(
                f"size {size} is out of range for task {self.name}: use --size between "
                f"{self.min_size} and {self.max_size}"
            )

    # -- generation and truth -------------------------------------------------------------
    @abstractmethod
    def generate_context(self, size: int, rng: np.random.Generator) -> JSON: ...

    @abstractmethod
    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        """One top-level question about the context."""

    def generate_questions(self, context: JSON, count: int, rng: np.random.Generator) -> list[JSON]:
        """Up to `count` distinct questions about one context; fewer when the context runs out of
        them (10 draws in a row that repeat), and the caller draws another context."""
        seen: set[str] = set()
        out: list[JSON] = []
        misses = 0
        while len(out) < count and misses < 10:
            q = self.generate_question(context, rng)
            key = canonical(q)
            if key in seen:
                misses += 1
                continue
            seen.add(key)
            out.append(q)
            misses = 0
        return out

    @abstractmethod
    def truth(self, context: JSON, question: JSON) -> JSON:
        """The answer computed directly (never by decomposition); defined for subquestions too."""

    def context_size(self, context: JSON) -> int:
        """The size n a (validated) context was made at."""
        raise NotImplementedError

    # -- the scripted expert --------------------------------------------------------------
    @abstractmethod
    def is_primitive(self, context: JSON, question: JSON) -> bool:
        """Answered by the overseer at fan-out from the facts in view (counted apart)."""

    @abstractmethod
    def expert_fan_out(self, context: JSON, question: JSON) -> Step: ...

    @abstractmethod
    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step: ...

    # -- forms ----------------------------------------------------------------------------
    @abstractmethod
    def validate_context(self, context: JSON) -> None:
        """Raise ParseError naming the field when the context is not of this task's form."""

    @abstractmethod
    def validate_question(self, question: JSON, context: JSON) -> None:
        """Raise ParseError when the question (top-level or sub) is not valid in this context."""

    @abstractmethod
    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        """Whether an answer is well formed for this question (not whether it is right)."""

    @abstractmethod
    def render_context(self, context: JSON) -> str:
        """The context for people: a table, an adjacency list, a program."""

    @abstractmethod
    def context_tokens(self, context: JSON) -> list[str]:
        """The context as model tokens (one small vocabulary per task)."""

    @abstractmethod
    def question_text(self, question: JSON) -> str: ...

    @abstractmethod
    def parse_question(self, text: str, context: JSON) -> JSON:
        """Parse a typed question; raise ParseError saying what is wrong."""

    def answer_text(self, question: JSON, answer: JSON) -> str:
        return format_value(answer)

    def parse_answer(self, text: str, question: JSON, context: JSON) -> JSON:
        """Parse a typed answer for `question`; raise ParseError saying what is wrong."""
        text = text.strip()
        if not text:
            raise ParseError("empty answer: type an answer, or ? for 'I don't know'")
        if text == UNKNOWN:
            return UNKNOWN
        value = parse_value(text)
        if not self.answer_ok(question, value, context):
            raise ParseError(
                f"'{text}' is not a valid answer to '{self.question_text(question)}': "
                f"{self.answer_hint(question)}"
            )
        return value

    def answer_hint(self, question: JSON) -> str:
        return "see the task's answer form"

    def check_question(self, question: JSON, context: JSON) -> None:
        """validate_question with non-dict input turned into a ParseError."""
        if not isinstance(question, dict):
            raise ParseError(f"a {self.name} question is a JSON object, got {question!r}")
        self.validate_question(question, context)


# -- text helpers shared by the built-in tasks ----------------------------------------------
def format_value(value: JSON) -> str:
    """Answer values as text: ints, names, `inf`, `none` for null, `yes`/`no`, lists space-separated."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(format_value(v) for v in value) if value else "[]"
    return str(value)


def _atom(tok: str) -> JSON:
    if tok == "none":
        return None
    if tok == "yes":
        return True
    if tok == "no":
        return False
    try:
        return int(tok)
    except ValueError:
        return tok


def parse_value(text: str) -> JSON:
    """Inverse of format_value for one answer; several tokens make a list."""
    toks = text.replace(",", " ").split()
    if toks == ["[]"]:
        return []
    if len(toks) == 1:
        return _atom(toks[0])
    return [_atom(t) for t in toks]


def is_int(value: JSON) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def need(cond: bool, message: str) -> None:
    if not cond:
        raise ParseError(message)


def split_question_text(text: str, kinds: Sequence[str]) -> tuple[str, list[str]]:
    toks = text.strip().split()
    if not toks:
        raise ParseError("empty question: type a kind followed by its arguments")
    if toks[0] not in kinds:
        raise ParseError(f"unknown question kind '{toks[0]}': use one of {', '.join(kinds)}")
    return toks[0], toks[1:]


def parse_int(tok: str, what: str) -> int:
    try:
        return int(tok)
    except ValueError:
        raise ParseError(f"{what} must be an integer, got '{tok}'") from None


def expert_solve(task: Task, context: JSON, question: JSON, max_nodes: int = 1_000_000) -> tuple[JSON, int]:
    """Pure scripted HCH with no store and no model: (answer, nodes). For tests and checks."""
    count = 0

    def solve(q: JSON) -> JSON:
        nonlocal count
        count += 1
        if count > max_nodes:
            raise RuntimeError(f"expert tree for {task.question_text(question)} passed {max_nodes} nodes")
        step = task.expert_fan_out(context, q)
        transcript: list[tuple[JSON, JSON]] = []
        while isinstance(step, Ask):
            for sq in step.questions:
                if canonical(sq) == canonical(q):
                    raise RuntimeError(f"expert asked {task.question_text(q)} inside itself")
                transcript.append((sq, solve(sq)))
            step = task.expert_fan_in(context, q, transcript)
        return step.value

    return solve(question), count


def question_examples(task: Task, context: JSON, question: JSON, limit: int = 500) -> list[str]:
    """One example of each kind of question the scripted expert asks on this context, as text (the
    syntax a person types at `ask`): from `question` and a few seeded top-level questions of the
    same context; [] for a task with no expert."""
    if not task.has_expert:
        return []
    seen: dict[str, str] = {}
    todo = [question, *task.generate_questions(context, 6, np.random.default_rng(0))]
    steps = 0
    while todo and steps < limit:
        q = todo.pop(0)
        text = task.question_text(q)
        seen.setdefault(text.split()[0], text)
        transcript: list[tuple[JSON, JSON]] = []
        step = task.expert_fan_out(context, q)
        while isinstance(step, Ask) and steps < limit:
            steps += 1
            for sq in step.questions:
                todo.append(sq)
                transcript.append((sq, task.truth(context, sq)))
            step = task.expert_fan_in(context, q, transcript)
    return list(seen.values())
