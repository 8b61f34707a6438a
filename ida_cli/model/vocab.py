"""Turning a task's contexts, questions, answers and steps into tokens, and back.

A context becomes a set of *slots*, each a bag of tokens whose embeddings are summed: one slot per
fact or graph node (docs/model.md: one token per node, one attention step per hop). Questions,
transcripts and outputs are token sequences taken from the task's one-line text forms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ida_cli.errors import ParseError, UsageError
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
ANS, ASK, SEP, SQ, SA = "<ans>", "<ask>", "<sep>", "<sq>", "<sa>"
MODES = {"answer": "<answer>", "fan_out": "<fan_out>", "fan_in": "<fan_in>"}
SPECIALS = [PAD, UNK, BOS, EOS, ANS, ASK, SEP, SQ, SA, *MODES.values()]
USER_CONTEXT_CHARS = 512


def context_slots(task: Task, context: JSON) -> list[list[str]]:
    name = task.name
    if name == "permutation":
        return [[f"x={i}", f"y={v}"] for i, v in enumerate(context["perm"])]
    if name == "wildcard":
        return [
            [*(f"c{j}={ch}" for j, ch in enumerate(s)), f"val={'+' if v > 0 else '-'}"]
            for s, v in sorted(context["values"].items())
        ]
    if name == "assignments":
        slots = [[f"n={v}", f"base={val}"] for v, val in context["base"].items()]
        slots += [[f"n={v}", f"l={y}", f"r={z}"] for v, (y, z) in context["defs"].items()]
        slots += [
            [f"ta={a}", f"tb={b}", f"tv={row[b]}"] for a, row in enumerate(context["table"]) for b in range(8)
        ]
        return slots
    if name == "unionfind":
        nbrs: dict[str, list[str]] = {}
        for a, b in context["edges"]:
            nbrs.setdefault(a, []).append(b)
            nbrs.setdefault(b, []).append(a)
        names = {*nbrs, *context["roots"]}
        order = sorted(names, key=lambda v: int(v[1:]))
        return [
            [f"n={v}", f"root={context['roots'].get(v, '-')}", *(f"adj={u}" for u in sorted(nbrs.get(v, [])))]
            for v in order
        ]
    if name == "shortpath":
        outs: dict[int, list[int]] = {a: [] for a in range(context["n"])}
        for a, b in context["edges"]:
            outs[a].append(b)
        return [[f"n={a}", *(f"out={b}" for b in sorted(bs))] for a, bs in outs.items()]
    if name == "user":
        return [[f"ch={c}"] for c in (context or "")[:USER_CONTEXT_CHARS]] or [["ch="]]
    raise UsageError(f"task {name} has no model encoding")


def question_slot(task: Task, context: JSON, question: JSON) -> int:
    """The plain slot (context_slots' order, memory slots left out) whose item a question asks the
    value of, or -1. Assignments only: its values chain through the slots, and a network trained to
    give each slot its value learns the chain (bench/RESULTS.md); without that target it stopped at
    depth-1 questions."""
    if task.name != "assignments" or "kind" in question:
        return -1
    names = [*context["base"], *context["defs"]]
    var = question.get("var")
    return names.index(var) if var in names else -1


def _words(task: Task, text: str) -> list[str]:
    return list(text) if task.name == "user" else text.split()


def question_tokens(task: Task, question: JSON) -> list[str]:
    return _words(task, task.question_text(question))


def answer_tokens(task: Task, question: JSON, answer: JSON) -> list[str]:
    return _words(task, UNKNOWN if answer == UNKNOWN else task.answer_text(question, answer))


def step_tokens(task: Task, question: JSON, step: Step) -> list[str]:
    if isinstance(step, Answer):
        return [ANS, *answer_tokens(task, question, step.value)]
    out = [ASK]
    for i, sq in enumerate(step.questions):
        out += ([SEP] if i else []) + question_tokens(task, sq)
    return out


def input_tokens(task: Task, mode: str, question: JSON, transcript: Transcript = ()) -> list[str]:
    out = [MODES[mode], *question_tokens(task, question)]
    for sq, a in transcript:
        out += [SQ, *question_tokens(task, sq), SA, *answer_tokens(task, sq, a)]
    return out


def _join(task: Task, tokens: Sequence[str]) -> str:
    return ("" if task.name == "user" else " ").join(tokens)


def parse_answer(task: Task, question: JSON, context: JSON, tokens: Sequence[str]) -> JSON:
    """Decoded tokens → an answer; anything malformed is "?" (docs/spec.md §4: the model may say anything)."""
    try:
        return task.parse_answer(_join(task, tokens), question, context)
    except (ParseError, KeyError, TypeError, ValueError, IndexError):
        return UNKNOWN


def parse_step(task: Task, question: JSON, context: JSON, tokens: Sequence[str]) -> Step:
    """Decoded tokens → a step; a malformed one is Answer("?")."""
    if tokens and tokens[0] == ANS:
        return Answer(parse_answer(task, question, context, tokens[1:]))
    if not tokens or tokens[0] != ASK:
        return Answer(UNKNOWN)
    parts: list[list[str]] = [[]]
    for t in tokens[1:]:
        if t == SEP:
            parts.append([])
        else:
            parts[-1].append(t)
    if not 1 <= len(parts) <= 2:
        return Answer(UNKNOWN)
    try:
        return Ask(tuple(task.parse_question(_join(task, p), context) for p in parts))
    except (ParseError, KeyError, TypeError, ValueError, IndexError):
        return Answer(UNKNOWN)


@dataclass
class Vocab:
    tokens: list[str]

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, tokens: Iterable[str], strict: bool = False) -> list[int]:
        out = []
        for t in tokens:
            i = self.index.get(t)
            if i is None:
                if strict:
                    raise UsageError(
                        f"'{t}' is not in the model's vocabulary: retrain with "
                        "`ida train model` after importing questions that use it"
                    )
                i = 1  # UNK
            out.append(i)
        return out

    def factors(self) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
        """Roles, and per token its role (1-based; 0 plain) and value id: "x=3" is role x, value 3."""
        roles = sorted({t.split("=", 1)[0] for t in self.tokens if "=" in t and not t.startswith("<")})
        role_index = {r: i + 1 for i, r in enumerate(roles)}
        role_of, value_of = [], []
        for i, t in enumerate(self.tokens):
            if "=" in t and not t.startswith("<"):
                role, value = t.split("=", 1)
                role_of.append(role_index[role])
                value_of.append(self.index.get(value, 1))
            else:
                role_of.append(0)
                value_of.append(i)
        return tuple(roles), tuple(role_of), tuple(value_of)

    @classmethod
    def build(cls, seen: Iterable[str]) -> Vocab:
        """Specials, then a fixed range of numbers and names (so larger sizes still encode), then the rest."""
        base = [
            *SPECIALS,
            *(str(i) for i in range(-64, 130)),
            *(f"v{i}" for i in range(64)),
            "inf",
            "none",
            "yes",
            "no",
            "[]",
            UNKNOWN,
        ]
        seen = set(seen)
        values = {t.split("=", 1)[1] for t in seen if "=" in t and not t.startswith("<")}
        extra = sorted((seen | values) - set(base))
        return cls([*base, *extra])
