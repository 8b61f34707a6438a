"""Permutation powering: σ^k(x) by repeated squaring (docs/spec.md §4)."""

from __future__ import annotations

import numpy as np

from ida_cli.tasks.base import ParseError, Task, is_int, need, parse_int, split_question_text
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript

K_BITS = 6  # top-level k is drawn from [2, 2^K_BITS); a full-HCH tree then has at most ~100 nodes


class Permutation(Task):
    name = "permutation"
    summary = "σ^k(x) for a permutation σ of n items; primitive k ∈ {0,1}; halve k and compose"

    def generate_context(self, size: int, rng: np.random.Generator) -> JSON:
        self.check_size(size)
        return {"perm": [int(v) for v in rng.permutation(size)]}

    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        n = len(context["perm"])
        return {"x": int(rng.integers(n)), "k": int(rng.integers(2, 2**K_BITS))}

    def context_size(self, context: JSON) -> int:
        return len(context["perm"])

    def truth(self, context: JSON, question: JSON) -> JSON:
        perm = context["perm"]
        x = question["x"]
        # the cycle length bounds the work however large k is
        cycle = [x]
        while (nxt := perm[cycle[-1]]) != x:
            cycle.append(nxt)
        return cycle[question["k"] % len(cycle)]

    def is_primitive(self, context: JSON, question: JSON) -> bool:
        return question["k"] in (0, 1)

    def expert_fan_out(self, context: JSON, question: JSON) -> Step:
        x, k = question["x"], question["k"]
        if k == 0:
            return Answer(x)
        if k == 1:
            return Answer(context["perm"][x])
        return Ask(({"x": x, "k": k // 2},))

    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        k = question["k"]
        answers = [a for _, a in transcript]
        if not all(self._item_ok(a, context) for a in answers):
            return Answer(UNKNOWN)
        if len(answers) == 1:
            return Ask(({"x": answers[0], "k": k // 2},))
        if len(answers) == 2 and k % 2 == 1:
            return Ask(({"x": answers[1], "k": 1},))
        return Answer(answers[-1])

    # -- forms -------------------------------------------------------------------------------
    def _item_ok(self, value: JSON, context: JSON) -> bool:
        return is_int(value) and 0 <= value < len(context["perm"])

    def validate_context(self, context: JSON) -> None:
        need(isinstance(context, dict) and "perm" in context, "context needs a 'perm' list")
        perm = context["perm"]
        need(isinstance(perm, list) and all(is_int(v) for v in perm), "'perm' must be a list of integers")
        need(sorted(perm) == list(range(len(perm))), "'perm' must be a permutation of 0..n-1")
        self.check_size(len(perm))

    def validate_question(self, question: JSON, context: JSON) -> None:
        need(set(question) == {"x", "k"}, 'a permutation question is {"x": int, "k": int}')
        need(self._item_ok(question["x"], context), f"x must be an item 0..{len(context['perm']) - 1}")
        need(is_int(question["k"]) and 0 <= question["k"] < 2**16, "k must be an integer ≥ 0")

    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        return self._item_ok(answer, context)

    def answer_hint(self, question: JSON) -> str:
        return "the answer is one item, an integer"

    def render_context(self, context: JSON) -> str:
        perm = context["perm"]
        width = len(str(len(perm)))
        xs = " ".join(f"{i:>{width}}" for i in range(len(perm)))
        ys = " ".join(f"{v:>{width}}" for v in perm)
        return f"   x  {xs}\nσ(x)  {ys}"

    def context_tokens(self, context: JSON) -> list[str]:
        return [str(v) for v in context["perm"]]

    def question_text(self, question: JSON) -> str:
        return f"pow {question['x']} {question['k']}"

    def parse_question(self, text: str, context: JSON) -> JSON:
        _, args = split_question_text(text, ["pow"])
        if len(args) != 2:
            raise ParseError("a permutation question is 'pow X K' (σ^K(X)), e.g. 'pow 3 5'")
        q = {"x": parse_int(args[0], "X"), "k": parse_int(args[1], "K")}
        self.validate_question(q, context)
        return q
