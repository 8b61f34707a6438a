"""The user task: free-text questions imported from a file, labelled by a person.

The question is its text, the context an optional text shown beside it, the truth an optional
reference answer stored with the row. There is no scripted expert: a round on it needs a person.
"""

from __future__ import annotations

import numpy as np

from ida_cli.errors import ParseError, UsageError
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Step, Transcript

NO_EXPERT = "task user has no scripted expert: use --oracle human (or `ida label`)"


class UserTask(Task):
    name = "user"
    summary = "free-text questions imported with `ida questions import FILE`, labelled by a person"
    has_expert = False
    min_size = 0
    max_size = 0

    def generate_context(self, size: int, rng: np.random.Generator) -> JSON:
        raise UsageError("the user task cannot be generated: add questions with `ida questions import FILE`")

    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        raise UsageError("the user task cannot be generated: add questions with `ida questions import FILE`")

    def truth(self, context: JSON, question: JSON) -> JSON:
        return None  # the reference answer, where there is one, is stored with the question row

    def is_primitive(self, context: JSON, question: JSON) -> bool:
        return False

    def expert_fan_out(self, context: JSON, question: JSON) -> Step:
        raise UsageError(NO_EXPERT)

    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        raise UsageError(NO_EXPERT)

    def validate_context(self, context: JSON) -> None:
        if context is not None and not isinstance(context, str):
            raise ParseError("a user-task context is text or absent")

    def validate_question(self, question: JSON, context: JSON) -> None:
        if not isinstance(question, str) or not question.strip():
            raise ParseError("a user-task question is non-empty text")

    def check_question(self, question: JSON, context: JSON) -> None:
        self.validate_question(question, context)

    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        return isinstance(answer, str) and bool(answer.strip())

    def answer_hint(self, question: JSON) -> str:
        return "any non-empty text"

    def parse_answer(self, text: str, question: JSON, context: JSON) -> JSON:
        text = text.strip()
        if not text:
            raise ParseError("empty answer: type an answer, or ? for 'I don't know'")
        return UNKNOWN if text == UNKNOWN else text

    def answer_text(self, question: JSON, answer: JSON) -> str:
        return "none" if answer is None else str(answer)

    def render_context(self, context: JSON) -> str:
        return context if context else "(no context)"

    def context_tokens(self, context: JSON) -> list[str]:
        return list(context or "")

    def question_text(self, question: JSON) -> str:
        return str(question)

    def parse_question(self, text: str, context: JSON) -> JSON:
        text = text.strip()
        if not text:
            raise ParseError("empty question: type the subquestion's text")
        return text
