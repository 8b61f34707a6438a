"""Wildcard search: the sum of ±1 values over the strings a pattern of a, b, * matches (docs/spec.md §4)."""

from __future__ import annotations

from itertools import product

import numpy as np

from ida_cli.tasks.base import ParseError, Task, is_int, need, split_question_text
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript

LETTERS = "ab"
STAR = "*"
MIN_LENGTH, MAX_LENGTH = 3, 6  # log2 of the sizes 8..64


def _length(context: JSON) -> int:
    # n = 2^L strings, so L is one less than n's bit length
    return int(len(context["values"]).bit_length() - 1)


def _half(pattern: str) -> int:
    return 2 ** len(pattern) // 2


def _clip(value: int, half: int) -> int:
    return max(-half, min(half, value))


def _matches(pattern: str, string: str) -> bool:
    return all(p in (STAR, c) for p, c in zip(pattern, string, strict=True))


class Wildcard(Task):
    name = "wildcard"
    summary = "sum of ±1 values of the binary strings a pattern over {a,b,*} matches; split the first *"

    def generate_context(self, size: int, rng: np.random.Generator) -> JSON:
        self.check_size(size)
        length = size.bit_length() - 1
        strings = ["".join(s) for s in product(LETTERS, repeat=length)]
        signs = rng.integers(2, size=len(strings))
        return {"values": {s: 1 if int(v) else -1 for s, v in zip(strings, signs, strict=True)}}

    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        length = _length(context)
        alphabet = LETTERS + STAR
        # a starless pattern is a primitive lookup, not a top-level question
        while True:
            pattern = "".join(alphabet[int(i)] for i in rng.integers(len(alphabet), size=length))
            if STAR in pattern:
                return {"pattern": pattern}

    def context_size(self, context: JSON) -> int:
        return len(context["values"])

    def truth(self, context: JSON, question: JSON) -> JSON:
        pattern = question["pattern"]
        total = sum(v for s, v in context["values"].items() if _matches(pattern, s))
        return _clip(total, _half(pattern))

    def is_primitive(self, context: JSON, question: JSON) -> bool:
        return STAR not in question["pattern"]

    def expert_fan_out(self, context: JSON, question: JSON) -> Step:
        pattern = question["pattern"]
        if STAR not in pattern:
            return Answer(context["values"][pattern])
        return Ask(tuple({"pattern": pattern.replace(STAR, c, 1)} for c in LETTERS))

    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        if len(transcript) != 2 or not all(self.answer_ok(q, a, context) for q, a in transcript):
            return Answer(UNKNOWN)
        # the halves have one star fewer, so neither was clipped and only the sum can need it
        return Answer(_clip(transcript[0][1] + transcript[1][1], _half(question["pattern"])))

    # -- forms -------------------------------------------------------------------------------
    def validate_context(self, context: JSON) -> None:
        need(isinstance(context, dict) and "values" in context, "context needs a 'values' object")
        values = context["values"]
        need(isinstance(values, dict) and len(values) > 0, "'values' must be an object of string → ±1")
        length = _length(context)
        need(
            MIN_LENGTH <= length <= MAX_LENGTH,
            f"'values' keys must have length {MIN_LENGTH}..{MAX_LENGTH} (8..64 strings)",
        )
        expected = {"".join(s) for s in product(LETTERS, repeat=length)}
        need(set(values) == expected, f"'values' keys must be every string over a, b of length {length}")
        need(all(is_int(v) and v in (1, -1) for v in values.values()), "'values' values must be +1 or -1")

    def validate_question(self, question: JSON, context: JSON) -> None:
        need(set(question) == {"pattern"}, 'a wildcard question is {"pattern": str}')
        pattern = question["pattern"]
        length = _length(context)
        need(
            isinstance(pattern, str) and len(pattern) == length and set(pattern) <= set(LETTERS + STAR),
            f"pattern must be {length} characters over a, b and *, got {pattern!r}",
        )

    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        if not is_int(answer):
            return False
        if STAR not in question["pattern"]:
            return bool(answer in (1, -1))
        return bool(abs(answer) <= _half(question["pattern"]))

    def answer_hint(self, question: JSON) -> str:
        if STAR not in question["pattern"]:
            return "the answer is the string's value, +1 or -1"
        half = _half(question["pattern"])
        return f"the answer is an integer between -{half} and {half}"

    def render_context(self, context: JSON) -> str:
        values = context["values"]
        width = max(len("string"), _length(context))
        rows = [f"{'string':<{width}}  value"]
        rows += [f"{s:<{width}}  {values[s]:>+5}" for s in sorted(values)]
        return "\n".join(rows)

    def context_tokens(self, context: JSON) -> list[str]:
        values = context["values"]
        return ["+" if values[s] > 0 else "-" for s in sorted(values)]

    def question_text(self, question: JSON) -> str:
        return f"sum {question['pattern']}"

    def parse_question(self, text: str, context: JSON) -> JSON:
        _, args = split_question_text(text, ["sum"])
        if len(args) != 1:
            raise ParseError("a wildcard question is 'sum PATTERN' over a, b and *, e.g. 'sum a*b'")
        q = {"pattern": args[0]}
        self.validate_question(q, context)
        return q
