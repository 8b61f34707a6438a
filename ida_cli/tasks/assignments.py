"""Sequential assignments: the value of a variable in a straight-line program over a table f
(docs/spec.md §4)."""

from __future__ import annotations

import math
import re

import numpy as np

from ida_cli.tasks.base import ParseError, Task, is_int, need, parse_int, split_question_text
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript

VALUES = 8  # variables and table entries range over 0..VALUES-1
KINDS = ("value", "operands", "apply")
_NAME = re.compile(r"v(0|[1-9][0-9]*)")


def _count(context: JSON) -> int:
    return len(context["base"]) + len(context["defs"])


def _index(name: JSON, n: int) -> int | None:
    """The variable's number when `name` is one of v0..v{n-1}, else None (garbage is not an error)."""
    if not isinstance(name, str) or not (m := _NAME.fullmatch(name)):
        return None
    i = int(m.group(1))
    return i if i < n else None


def _value_ok(value: JSON) -> bool:
    return is_int(value) and 0 <= value < VALUES


class Assignments(Task):
    name = "assignments"
    summary = "value of a variable in a program x := f(y, z); ask operands, their values, then f"

    def generate_context(self, size: int, rng: np.random.Generator) -> JSON:
        self.check_size(size)
        m = math.isqrt(size)
        base = {f"v{i}": int(rng.integers(VALUES)) for i in range(m)}
        defs: dict[str, list[str]] = {}
        for i in range(m, size):
            y, z = rng.choice(i, size=2, replace=False)
            defs[f"v{i}"] = [f"v{int(y)}", f"v{int(z)}"]
        table = [[int(v) for v in row] for row in rng.integers(VALUES, size=(VALUES, VALUES))]
        return {"base": base, "defs": defs, "table": table}

    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        names = list(context["defs"])
        return {"var": names[int(rng.integers(len(names)))]}

    def _values(self, context: JSON) -> dict[str, int]:
        base, defs, table = context["base"], context["defs"], context["table"]
        values: dict[str, int] = {}
        # defs name only earlier variables, so index order evaluates every operand first
        for i in range(_count(context)):
            x = f"v{i}"
            if x in base:
                values[x] = base[x]
            else:
                y, z = defs[x]
                values[x] = table[values[y]][values[z]]
        return values

    def context_size(self, context: JSON) -> int:
        return len(context["base"]) + len(context["defs"])

    def truth(self, context: JSON, question: JSON) -> JSON:
        kind = question.get("kind", "value")
        if kind == "operands":
            ops = context["defs"].get(question["var"])
            return list(ops) if ops is not None else None
        if kind == "apply":
            return context["table"][question["a"]][question["b"]]
        return self._values(context)[question["var"]]

    def is_primitive(self, context: JSON, question: JSON) -> bool:
        return "kind" in question or question["var"] in context["base"]

    def expert_fan_out(self, context: JSON, question: JSON) -> Step:
        if "kind" in question or question["var"] in context["base"]:
            return Answer(self.truth(context, question))
        return Ask(({"kind": "operands", "var": question["var"]},))

    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        if not all(self.answer_ok(q, a, context) for q, a in transcript):
            return Answer(UNKNOWN)
        answers = [a for _, a in transcript]
        if len(answers) == 1 and isinstance(answers[0], list):
            y, z = answers[0]
            return Ask(({"var": y}, {"var": z}))
        if len(answers) == 3:
            return Ask(({"kind": "apply", "a": answers[1], "b": answers[2]},))
        if len(answers) == 4:
            return Answer(answers[3])
        # a defined variable said to have no operands (none) leaves nothing to compute
        return Answer(UNKNOWN)

    # -- forms -------------------------------------------------------------------------------
    def _kind(self, question: JSON) -> str:
        return str(question.get("kind", "value"))

    def _earlier(self, names: list[JSON], var: JSON, n: int) -> bool:
        i = _index(var, n)
        indices = [_index(y, n) for y in names]
        return i is not None and all(j is not None and j < i for j in indices)

    def validate_context(self, context: JSON) -> None:
        need(
            isinstance(context, dict) and {"base", "defs", "table"} <= set(context),
            "context needs 'base', 'defs' and 'table'",
        )
        base, defs, table = context["base"], context["defs"], context["table"]
        need(isinstance(base, dict) and len(base) > 0, "'base' must be a non-empty object of name → value")
        need(isinstance(defs, dict), "'defs' must be an object of name → [name, name]")
        n = len(base) + len(defs)
        need(8 <= n <= 64, f"'base' and 'defs' must name 8..64 variables together, got {n}")
        indices = sorted(-1 if (i := _index(x, n)) is None else i for x in (*base, *defs))
        need(indices == list(range(n)), f"'base' and 'defs' must name each of v0..v{n - 1} exactly once")
        need(all(_value_ok(v) for v in base.values()), f"'base' values must be integers 0..{VALUES - 1}")
        for x, ops in defs.items():
            need(
                isinstance(ops, list) and len(ops) == 2 and ops[0] != ops[1],
                f"'defs' {x} must be a list of two distinct variable names",
            )
            need(self._earlier(ops, x, n), f"'defs' {x} may use only earlier variables, got {ops!r}")
        need(
            isinstance(table, list)
            and len(table) == VALUES
            and all(isinstance(row, list) and len(row) == VALUES for row in table),
            f"'table' must be a {VALUES}x{VALUES} list of lists",
        )
        need(
            all(_value_ok(v) for row in table for v in row),
            f"'table' entries must be integers 0..{VALUES - 1}",
        )

    def validate_question(self, question: JSON, context: JSON) -> None:
        n = _count(context)
        kind = question.get("kind", "value")
        if kind == "apply":
            need(
                set(question) == {"kind", "a", "b"},
                'an apply question is {"kind": "apply", "a": int, "b": int}',
            )
            need(
                _value_ok(question["a"]) and _value_ok(question["b"]),
                f"apply arguments must be values 0..{VALUES - 1}, got {question['a']!r} {question['b']!r}",
            )
            return
        if kind == "operands":
            need(
                set(question) == {"kind", "var"}, 'an operands question is {"kind": "operands", "var": name}'
            )
        else:
            need(
                "kind" not in question,
                f"unknown question kind {kind!r}: use 'operands' or 'apply' (a value question has no kind)",
            )
            need(set(question) == {"var"}, 'a value question is {"var": name}')
        need(
            _index(question["var"], n) is not None,
            f"var must be a variable v0..v{n - 1}, got {question['var']!r}",
        )

    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        if self._kind(question) != "operands":
            return _value_ok(answer)
        if answer is None:
            return True
        # operands are distinct earlier variables; that also keeps a wrong answer from looping
        return (
            isinstance(answer, list)
            and len(answer) == 2
            and answer[0] != answer[1]
            and self._earlier(answer, question["var"], _count(context))
        )

    def answer_hint(self, question: JSON) -> str:
        if self._kind(question) == "operands":
            return "the answer is two distinct earlier variables, e.g. 'v1 v3', or 'none' for a base variable"
        return f"the answer is a value, an integer 0..{VALUES - 1}"

    def render_context(self, context: JSON) -> str:
        base, defs, table = context["base"], context["defs"], context["table"]
        lines = []
        for i in range(_count(context)):
            x = f"v{i}"
            if x in base:
                lines.append(f"{x} := {base[x]}")
            else:
                y, z = defs[x]
                lines.append(f"{x} := f({y}, {z})")
        lines.append("")
        lines.append("f(a, b): row a, column b")
        lines.append("    " + " ".join(str(b) for b in range(VALUES)))
        lines.append("  +" + "-" * (2 * VALUES))
        lines += [f"{a} | " + " ".join(str(v) for v in row) for a, row in enumerate(table)]
        return "\n".join(lines)

    def context_tokens(self, context: JSON) -> list[str]:
        base, defs, table = context["base"], context["defs"], context["table"]
        # values (digits) and names are apart in the vocabulary, so one value token for a base variable
        # and two name tokens for a defined one still read back unambiguously
        tokens: list[str] = []
        for i in range(_count(context)):
            x = f"v{i}"
            tokens += [str(base[x])] if x in base else list(defs[x])
        return tokens + [str(v) for row in table for v in row]

    def question_text(self, question: JSON) -> str:
        kind = self._kind(question)
        if kind == "apply":
            return f"apply {question['a']} {question['b']}"
        return f"{kind} {question['var']}"

    def parse_question(self, text: str, context: JSON) -> JSON:
        kind, args = split_question_text(text, KINDS)
        q: dict[str, JSON]
        if kind == "apply":
            if len(args) != 2:
                raise ParseError("an apply question is 'apply A B' (f(A, B)), e.g. 'apply 3 4'")
            q = {"kind": "apply", "a": parse_int(args[0], "A"), "b": parse_int(args[1], "B")}
        else:
            if len(args) != 1:
                article = "an" if kind == "operands" else "a"
                raise ParseError(f"{article} {kind} question is '{kind} VAR', e.g. '{kind} v5'")
            q = {"var": args[0]} if kind == "value" else {"kind": kind, "var": args[0]}
        self.validate_question(q, context)
        return q
