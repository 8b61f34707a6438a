"""The words of IDA, as every other module uses them. Open this first.

- `JSON`: questions, answers and contexts are plain JSON values (docs/spec.md §6.1), so they store,
  export and compare without conversion; `canonical` gives one string per value.
- `UNKNOWN` ("?"): "I don't know", what the expert answers to malformed subanswers; never correct.
- A `Step` is what the overseer H (or ML imitating H) does at a question: `Answer` it, or `Ask` one
  or two subquestions (fan-out). After each subanswer it takes another step (fan-in) on the
  `Transcript` so far: the (subquestion, subanswer) pairs.
- A `Tree` is one amplified question: `Node`s (a question, its final answer, who gave it, the
  adversary's score S of ML's answer) and the `Action`s taken at them (docs/spec.md §6.2).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ida_cli.errors import ParseError

JSON = Any
UNKNOWN = "?"  # "I don't know": what the expert answers to malformed subanswers; never correct


@dataclass(frozen=True)
class Answer:
    value: JSON


@dataclass(frozen=True)
class Ask:
    questions: tuple[JSON, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.questions) <= 2:
            raise ValueError("a step asks one or two subquestions")


Step = Answer | Ask
Transcript = Sequence[tuple[JSON, JSON]]


def canonical(value: JSON) -> str:
    """One string per JSON value: for equality, hashing and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class Node:
    """One question in a tree. `answer` is its final answer; `by` who produced it."""

    question: JSON
    answer: JSON = None
    by: str = ""
    id: int = 0
    score: float | None = None  # the adversary's S for ML's answer here (None where not scored)
    step: int = 0  # the parent's step (0 = fan-out, 1.. = fan-ins) that asked this node
    recursed: bool = True  # False: ML answered it and the overseer was not consulted
    primitive: bool = False
    depth: int = 0
    ml_answer: JSON = None
    ml_logp: float | None = None
    gumbel: float | None = None
    gumbel_threshold: float | None = None
    truth: JSON = None
    has_truth: bool = False
    children: list[Node] = field(default_factory=list)

    @property
    def correct(self) -> bool | None:
        return (self.answer == self.truth) if self.has_truth else None

    def walk(self) -> Iterator[Node]:
        """Pre-order, children in asking order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "by": self.by,
            "score": self.score,
            "step": self.step,
            "recursed": self.recursed,
            "children": [c.to_json() for c in self.children],
        }


@dataclass
class Action:
    """One overseer or model step at a node: what was asked of whom and what came back."""

    node: Node
    actor: str
    kind: str  # "fan_out" | "fan_in"
    step: int
    primitive: bool
    result: JSON  # {"answer": A} or {"ask": [SQ, ...]}
    at: datetime
    seconds: float
    note: JSON = None  # stored as JSON in actions.note, e.g. the primed overseer's draws (docs/spec.md §2.3)


@dataclass
class Tree:
    task: str
    context: JSON
    root: Node
    id: int = 0
    question_id: int | None = None
    round_id: int | None = None
    context_id: int | None = None
    overseer_calls: int = 0
    primitive_calls: int = 0
    model_calls: int = 0
    memo_hits: int = 0  # subquestions the memoizing overseer answered from memory (no call)
    seconds: float = 0.0
    source: str = "round"
    actions: list[Action] = field(default_factory=list)

    def nodes(self) -> list[Node]:
        return list(self.root.walk())

    @property
    def depth(self) -> int:
        return max(n.depth for n in self.root.walk())

    def to_json(self) -> dict[str, JSON]:
        return {"id": self.id, "task": self.task, "context": self.context, "root": self.root.to_json()}


MAX_ID = 2**63 - 1  # ids are BIGINT in the store
# far above the walker's depth guard (walk/walker.py: 200): a deeper file is not an ida tree
MAX_TREE_DEPTH = 300


def _an_id(value: JSON) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _a_producer(by: JSON) -> bool:
    return isinstance(by, str) and (by in ("scripted", "model") or (by.startswith("human:") and len(by) > 6))


def _check_depth(root: JSON, where: str) -> None:
    """Refuse a tree deeper than MAX_TREE_DEPTH before walking it recursively."""
    stack = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise ParseError(f"{where}: the tree is more than {MAX_TREE_DEPTH} levels deep: not an ida tree")
        if isinstance(obj, dict) and isinstance(obj.get("children"), list):
            stack.extend((c, depth + 1) for c in obj["children"])


NODE_FIELDS = ("id", "question", "answer", "by", "score", "step", "recursed", "children")


def tree_from_json(doc: JSON, where: str = "tree") -> Tree:
    """Parse docs/spec.md §6.2 JSON, checking every field; errors name the node path."""
    if not isinstance(doc, dict):
        raise ParseError(f"{where}: a tree is a JSON object with id, task, context and root")
    for key in ("id", "task", "root"):
        if key not in doc:
            raise ParseError(f"{where}: missing field '{key}'")
    if not _an_id(doc["id"]):
        raise ParseError(f"{where}: field 'id' must be an integer from 0 to {MAX_ID}")
    _check_depth(doc["root"], where)
    seen: set[int] = set()

    def parse(obj: JSON, path: str, depth: int) -> Node:
        if not isinstance(obj, dict):
            raise ParseError(f"{where}: {path} is not a node object")
        missing = [k for k in NODE_FIELDS if k not in obj]
        if missing:
            raise ParseError(f"{where}: {path} is missing field '{missing[0]}'")
        nid = obj["id"]
        if not _an_id(nid):
            raise ParseError(f"{where}: {path} field 'id' must be an integer from 0 to {MAX_ID}")
        if nid in seen:
            raise ParseError(f"{where}: {path} repeats node id {nid} (a cycle or a duplicate)")
        seen.add(nid)
        score = obj["score"]
        if score is not None and (not isinstance(score, int | float) or isinstance(score, bool)):
            raise ParseError(f"{where}: {path} field 'score' must be a number or null")
        if not _a_producer(obj["by"]):
            raise ParseError(f"{where}: {path} field 'by' must be 'scripted', 'model' or 'human:NAME'")
        if not isinstance(obj["step"], int) or obj["step"] < 0:
            raise ParseError(f"{where}: {path} field 'step' must be an integer ≥ 0")
        if not isinstance(obj["recursed"], bool):
            raise ParseError(f"{where}: {path} field 'recursed' must be true or false")
        if not isinstance(obj["children"], list):
            raise ParseError(f"{where}: {path} field 'children' must be a list")
        asked = Counter(c.get("step") for c in obj["children"] if isinstance(c, dict))
        crowded = [s for s, n in asked.items() if n > 2]
        if crowded:
            raise ParseError(
                f"{where}: {path} asks {asked[crowded[0]]} subquestions at step {crowded[0]}: a step asks "
                "one or two"
            )
        node = Node(
            question=obj["question"],
            answer=obj["answer"],
            by=obj["by"],
            id=nid,
            score=None if score is None else float(score),
            step=obj["step"],
            recursed=obj["recursed"],
            depth=depth,
        )
        node.children = [parse(c, f"{path}.children[{i}]", depth + 1) for i, c in enumerate(obj["children"])]
        return node

    root = parse(doc["root"], "root", 0)
    return Tree(task=str(doc["task"]), context=doc.get("context"), root=root, id=doc["id"], source="import")
