"""Shortest paths in a random directed graph: distance a→b and the next vertex on a shortest path
(docs/spec.md §4).

The spec's literal decomposition (next asks the candidates' distances, distance asks next) is circular
on graphs with cycles: dist(a, b) → next(a, b) → dist(c, b) → next(c, b) → dist(a, b) → … never ends.
This expert is well founded instead:
- dist(a, b) asks next(a, b) → c, then dist(c, b), whose true distance is one less;
- next(a, b) asks out(a), then hops(c, b) for every candidate c and picks the closest;
- hops(c, b) runs a breadth-first search in its own transcript that asks only `out` primitives.
hops never asks dist or next, so every chain of subquestions ends.
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise

import numpy as np

from ida_cli.tasks.base import (
    MAX_SIZE,
    MIN_SIZE,
    ParseError,
    Task,
    is_int,
    need,
    parse_int,
    parse_value,
    split_question_text,
)
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript

CLIP = 12  # dist answers saturate here, so the answer vocabulary stays small at any size
INF = "inf"
KINDS = ("dist", "next", "hops", "out", "edge")
TOP_KINDS = ("dist", "next")
PAIR_KINDS = ("dist", "next", "hops", "edge")  # the kinds that take 'from' and 'to'
SEPARATOR = "|"  # ends each vertex's out-list in the model tokens


class ShortPath(Task):
    name = "shortpath"
    summary = "distance a→b (clipped at 12) and next vertex in a random digraph; primitive out(a); BFS"

    def generate_context(self, size: int, rng: np.random.Generator) -> JSON:
        self.check_size(size)
        n = size
        # index i of the n(n-1) ordered pairs without self-loops: a = i // (n-1), b skips over a
        picks = rng.choice(n * (n - 1), size=2 * n, replace=False)
        edges = []
        for i in picks:
            a, r = divmod(int(i), n - 1)
            edges.append([a, r if r < a else r + 1])
        return {"n": n, "edges": sorted(edges)}

    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        n = context["n"]
        kind = TOP_KINDS[int(rng.integers(len(TOP_KINDS)))]
        a = int(rng.integers(n))
        b = int(rng.integers(n - 1))
        return {"kind": kind, "from": a, "to": b if b < a else b + 1}

    def context_size(self, context: JSON) -> int:
        return int(context["n"])

    def truth(self, context: JSON, question: JSON) -> JSON:
        kind, a = question["kind"], question["from"]
        out = self._out_lists(context)
        if kind == "out":
            return out[a]
        b = question["to"]
        if kind == "edge":
            return b in out[a]
        # one search backwards from b gives every vertex's distance to b, which next needs for all of a's
        # out-neighbours at once
        to_b = self._distances_to(context, b)
        if kind == "hops":
            return to_b.get(a, INF)
        if kind == "dist":
            return min(to_b[a], CLIP) if a in to_b else INF
        if a == b or a not in to_b:
            return None
        return min(c for c in out[a] if to_b.get(c) == to_b[a] - 1)

    # -- the scripted expert ---------------------------------------------------------------------
    def is_primitive(self, context: JSON, question: JSON) -> bool:
        return question["kind"] in ("out", "edge")

    def expert_fan_out(self, context: JSON, question: JSON) -> Step:
        kind, a = question["kind"], question["from"]
        if kind in ("out", "edge"):
            return Answer(self.truth(context, question))
        b = question["to"]
        if kind == "dist":
            return Answer(0) if a == b else Ask(({"kind": "next", "from": a, "to": b},))
        if kind == "next":
            return Answer(None) if a == b else Ask(({"kind": "out", "from": a},))
        return Answer(0) if a == b else Ask(({"kind": "out", "from": a},))

    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        if not all(self._pair_ok(q, a, context) for q, a in transcript):
            return Answer(UNKNOWN)
        kind = question["kind"]
        if kind == "dist":
            return self._dist_fan_in(question, transcript)
        if kind == "next":
            return self._next_fan_in(question, transcript)
        if kind == "hops":
            return self._hops_fan_in(question, transcript)
        return Answer(UNKNOWN)  # primitives never ask, so a transcript here is not ours

    def _dist_fan_in(self, question: JSON, transcript: Transcript) -> Step:
        a, b = question["from"], question["to"]
        if len(transcript) == 1:
            c = transcript[0][1]
            if c is None:
                return Answer(INF)
            if c == a:  # a vertex is never its own next; asking dist(a, b) again would never end
                return Answer(UNKNOWN)
            return Ask(({"kind": "dist", "from": c, "to": b},))
        d = transcript[-1][1]
        if len(transcript) == 2 and is_int(d):
            return Answer(min(d + 1, CLIP))
        # "inf" here contradicts next, which named c because c reaches b
        return Answer(UNKNOWN)

    def _next_fan_in(self, question: JSON, transcript: Transcript) -> Step:
        b = question["to"]
        if transcript[0][0]["kind"] != "out":
            return Answer(UNKNOWN)
        candidates = transcript[0][1]
        hops = [h for _, h in transcript[1:]]
        if len(hops) < len(candidates):
            todo = candidates[len(hops) : len(hops) + 2]
            return Ask(tuple({"kind": "hops", "from": c, "to": b} for c in todo))
        finite = [(h, c) for c, h in zip(candidates, hops, strict=False) if is_int(h)]
        return Answer(min(finite)[1] if finite else None)

    def _hops_fan_in(self, question: JSON, transcript: Transcript) -> Step:
        start, b = question["from"], question["to"]
        expanded = {q["from"]: a for q, a in transcript if q["kind"] == "out"}
        level = {start: 0}
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for w in expanded.get(v, []):
                if w not in level:
                    level[w] = level[v] + 1
                    queue.append(w)
        if b in level:
            return Answer(level[b])
        frontier = [v for v in level if v not in expanded]
        if not frontier:
            return Answer(INF)
        # expanding only the lowest level keeps the search breadth-first across fan-ins, so the level
        # at which b first appears is its true distance
        lowest = min(level[v] for v in frontier)
        todo = sorted(v for v in frontier if level[v] == lowest)[:2]
        return Ask(tuple({"kind": "out", "from": v} for v in todo))

    # -- forms ---------------------------------------------------------------------------------
    def _vertex_ok(self, value: JSON, context: JSON) -> bool:
        return is_int(value) and 0 <= value < context["n"]

    def _pair_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        return isinstance(question, dict) and self.answer_ok(question, answer, context)

    def _out_lists(self, context: JSON) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(context["n"])]
        for a, b in context["edges"]:
            out[a].append(b)
        return [sorted(vs) for vs in out]

    def _distances_to(self, context: JSON, target: int) -> dict[int, int]:
        into: list[list[int]] = [[] for _ in range(context["n"])]
        for a, b in context["edges"]:
            into[b].append(a)
        dist = {target: 0}
        queue = deque([target])
        while queue:
            v = queue.popleft()
            for u in into[v]:
                if u not in dist:
                    dist[u] = dist[v] + 1
                    queue.append(u)
        return dist

    def validate_context(self, context: JSON) -> None:
        need(isinstance(context, dict) and "n" in context, "context needs 'n', the number of vertices")
        need("edges" in context, "context needs an 'edges' list of [from, to] pairs")
        n = context["n"]
        need(
            is_int(n) and MIN_SIZE <= n <= MAX_SIZE,
            f"'n' must be an integer between {MIN_SIZE} and {MAX_SIZE}, got {n!r}",
        )
        edges = context["edges"]
        need(isinstance(edges, list), "'edges' must be a list of [from, to] pairs")
        seen: set[tuple[int, int]] = set()
        for edge in edges:
            need(
                isinstance(edge, list) and len(edge) == 2 and all(is_int(v) for v in edge),
                f"'edges' must hold [from, to] pairs of integers, got {edge!r}",
            )
            a, b = edge
            need(0 <= a < n and 0 <= b < n, f"'edges' entry {edge!r} names a vertex outside 0..{n - 1}")
            need(a != b, f"'edges' entry {edge!r} is a self-loop")
            need((a, b) not in seen, f"'edges' holds {edge!r} twice")
            seen.add((a, b))

    def validate_question(self, question: JSON, context: JSON) -> None:
        kind = question.get("kind")
        need(kind in KINDS, f"unknown question kind {kind!r}: use one of {', '.join(KINDS)}")
        n = context["n"]
        if kind == "out":
            need(set(question) == {"kind", "from"}, 'an out question is {"kind": "out", "from": int}')
        else:
            need(
                set(question) == {"kind", "from", "to"},
                f'a {kind} question is {{"kind": "{kind}", "from": int, "to": int}}',
            )
            need(self._vertex_ok(question["to"], context), f"'to' must be a vertex 0..{n - 1}")
        need(self._vertex_ok(question["from"], context), f"'from' must be a vertex 0..{n - 1}")

    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        kind = question.get("kind")
        n = context["n"]
        if kind == "dist":
            return answer == INF or (is_int(answer) and 0 <= answer <= CLIP)
        if kind == "hops":
            return answer == INF or (is_int(answer) and 0 <= answer < n)
        if kind == "next":
            return answer is None or self._vertex_ok(answer, context)
        if kind == "out":
            return (
                isinstance(answer, list)
                and all(self._vertex_ok(v, context) for v in answer)
                and all(x < y for x, y in pairwise(answer))
            )
        if kind == "edge":
            return isinstance(answer, bool)
        return False

    def answer_hint(self, question: JSON) -> str:
        kind = question.get("kind")
        if kind == "dist":
            return f"the answer is a number of edges 0..{CLIP} ({CLIP} means {CLIP} or more), or inf"
        if kind == "hops":
            return "the answer is the exact number of edges, or inf"
        if kind == "next":
            return "the answer is a vertex, or none when there is no path"
        if kind == "out":
            return "the answer is the out-neighbours in increasing order, or [] when there are none"
        if kind == "edge":
            return "the answer is yes or no"
        return "see the task's answer form"

    def parse_answer(self, text: str, question: JSON, context: JSON) -> JSON:
        # one out-neighbour types as a single number, which parse_value reads as an int, not a list
        if question.get("kind") == "out" and text.strip() not in ("", UNKNOWN):
            value = parse_value(text)
            if is_int(value) and self._vertex_ok(value, context):
                return [value]
        return super().parse_answer(text, question, context)

    def render_context(self, context: JSON) -> str:
        n = context["n"]
        width = len(str(n - 1))
        lines = []
        for v, vs in enumerate(self._out_lists(context)):
            targets = " ".join(str(w) for w in vs) if vs else "(none)"
            lines.append(f"{v:>{width}} → {targets}")
        return "\n".join(lines)

    def context_tokens(self, context: JSON) -> list[str]:
        # a vertex is its position in the token list, so its number need not be spelled out
        tokens: list[str] = []
        for vs in self._out_lists(context):
            tokens.extend(str(w) for w in vs)
            tokens.append(SEPARATOR)
        return tokens

    def question_text(self, question: JSON) -> str:
        if question["kind"] == "out":
            return f"out {question['from']}"
        return f"{question['kind']} {question['from']} {question['to']}"

    def parse_question(self, text: str, context: JSON) -> JSON:
        kind, args = split_question_text(text, KINDS)
        if kind == "out":
            if len(args) != 1:
                raise ParseError("an out question is 'out A' (the out-neighbours of A), e.g. 'out 3'")
            q: JSON = {"kind": "out", "from": parse_int(args[0], "A")}
        else:
            if len(args) != 2:
                raise ParseError(f"a {kind} question is '{kind} A B' (two vertices), e.g. '{kind} 3 5'")
            q = {"kind": kind, "from": parse_int(args[0], "A"), "to": parse_int(args[1], "B")}
        self.validate_question(q, context)
        return q
