"""Equalities (union-find): the value, parent and depth of a variable in a forest of facts (docs/spec.md §4).

The spec's scripted decomposition ("depth: parent → y, depth y + 1"; "parent: candidates by depth") is
circular: parent would ask depths and depth asks parent, so the question tree need not bottom out. This
expert is well founded instead. parent(x) is a breadth-first search from x kept in the node's own
transcript and asks only primitive questions; value(x) and depth(x) ask root(x) and parent(x), then the
same question about the parent, which is one edge closer to the root.
"""

from __future__ import annotations

import re
from collections import deque

import numpy as np

from ida_cli.tasks.base import ParseError, Task, is_int, need, split_question_text
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript

VALUES = 10  # root values are 0..9: one digit each, a small vocabulary
TOP_KINDS = ("value", "parent", "depth")
VAR_KINDS = (*TOP_KINDS, "root", "neighbors")
KINDS = (*VAR_KINDS, "edge")
_NAME = re.compile(r"v(0|[1-9][0-9]*)")  # no leading zeros, so each variable has exactly one name


def _index(name: JSON) -> int | None:
    """The number of a variable name, or None when `name` is not one (any JSON value may arrive)."""
    if isinstance(name, str) and (m := _NAME.fullmatch(name)):
        return int(m.group(1))
    return None


def _num(name: str) -> int:
    return int(name[1:])


def _size(context: JSON) -> int:
    # every variable is a root or an endpoint of an edge, so the largest name fixes n
    names = [*context["roots"], *(v for edge in context["edges"] for v in edge)]
    return max(_num(v) for v in names) + 1


def _adjacency(context: JSON) -> dict[str, list[str]]:
    adj: dict[str, list[str]] = {f"v{i}": [] for i in range(_size(context))}
    for a, b in context["edges"]:
        adj[a].append(b)
        adj[b].append(a)
    for nbrs in adj.values():
        nbrs.sort(key=_num)
    return adj


def _forest(context: JSON) -> dict[str, tuple[str, str, int]]:
    """Each variable's (root, parent, depth), by breadth-first search down from every root."""
    adj = _adjacency(context)
    out: dict[str, tuple[str, str, int]] = {}
    for root in context["roots"]:
        out[root] = (root, root, 0)
        queue = deque([root])
        while queue:
            v = queue.popleft()
            for w in adj[v]:
                if w not in out:
                    out[w] = (root, v, out[v][2] + 1)
                    queue.append(w)
    return out


def _q(kind: str, var: str) -> JSON:
    return {"kind": kind, "var": var}


def _root_ok(value: JSON) -> bool:
    return value is None or _value_ok(value)


def _value_ok(value: JSON) -> bool:
    return is_int(value) and 0 <= value < VALUES


def _neighbor_list(value: JSON, var: str, n: int) -> list[str] | None:
    """The neighbours an answer names, or None when it is malformed.

    One neighbour prints as a bare name ("v3"), which parses back as a string, so that counts too.
    """
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(_var_ok(v, n) for v in items):
        return None
    if len(set(items)) != len(items) or var in items:
        return None
    return list(items)


def _var_ok(value: JSON, n: int) -> bool:
    i = _index(value)
    return i is not None and i < n


def _bfs(x: str, nbrs: dict[str, list[str]]) -> tuple[list[str], dict[str, str]]:
    """Vertices reachable from x through the known lists, by (distance, number), and who found each."""
    dist = {x: 0}
    pred: dict[str, str] = {}
    queue = deque([x])
    while queue:
        v = queue.popleft()
        for w in sorted(nbrs.get(v, []), key=_num):
            if w not in dist:
                dist[w] = dist[v] + 1
                pred[w] = v
                queue.append(w)
    return sorted(dist, key=lambda v: (dist[v], _num(v))), pred


class UnionFind(Task):
    name = "unionfind"
    summary = "value, parent or depth of a variable in trees of equalities; primitive root/neighbors/edge"

    def generate_context(self, size: int, rng: np.random.Generator) -> JSON:
        self.check_size(size)
        c = max(2, size // 8)
        order = [int(v) for v in rng.permutation(size)]
        # the first c variables seed one class each, so no class is empty
        label = {v: i if i < c else int(rng.integers(c)) for i, v in enumerate(order)}
        roots: dict[str, int] = {}
        edges: list[list[str]] = []
        for k in range(c):
            members = [f"v{v}" for v in sorted(v for v in label if label[v] == k)]
            shuffled = [members[int(i)] for i in rng.permutation(len(members))]
            for i in range(1, len(shuffled)):
                edge = [shuffled[i], shuffled[int(rng.integers(i))]]
                edges.append(edge if rng.random() < 0.5 else edge[::-1])
            roots[members[int(rng.integers(len(members)))]] = int(rng.integers(VALUES))
        edges = [edges[int(i)] for i in rng.permutation(len(edges))]
        return {"roots": dict(sorted(roots.items(), key=lambda kv: _num(kv[0]))), "edges": edges}

    def generate_question(self, context: JSON, rng: np.random.Generator) -> JSON:
        kind = TOP_KINDS[int(rng.integers(len(TOP_KINDS)))]
        return _q(kind, f"v{int(rng.integers(_size(context)))}")

    def context_size(self, context: JSON) -> int:
        return _size(context)

    def truth(self, context: JSON, question: JSON) -> JSON:
        kind = question["kind"]
        if kind == "edge":
            return question["b"] in _adjacency(context)[question["a"]]
        x = question["var"]
        if kind == "root":
            return context["roots"].get(x)
        if kind == "neighbors":
            return _adjacency(context)[x]
        root, parent, depth = _forest(context)[x]
        if kind == "value":
            return context["roots"][root]
        return parent if kind == "parent" else depth

    def is_primitive(self, context: JSON, question: JSON) -> bool:
        return question["kind"] not in TOP_KINDS

    def expert_fan_out(self, context: JSON, question: JSON) -> Step:
        if self.is_primitive(context, question):
            return Answer(self.truth(context, question))
        x = question["var"]
        if question["kind"] == "parent":
            return self._expand(x)
        return Ask((_q("root", x), _q("parent", x)))

    def expert_fan_in(self, context: JSON, question: JSON, transcript: Transcript) -> Step:
        kind = question["kind"]
        if kind == "parent":
            return self._search(context, question["var"], transcript)
        if kind not in ("value", "depth") or len(transcript) not in (2, 3):
            return Answer(UNKNOWN)
        x = question["var"]
        n = _size(context)
        is_root, parent = transcript[0][1], transcript[1][1]
        if not _root_ok(is_root):
            return Answer(UNKNOWN)
        if is_root is not None:
            return Answer(is_root if kind == "value" else 0)
        if not _var_ok(parent, n) or parent == x:
            return Answer(UNKNOWN)
        if len(transcript) == 2:
            return Ask((_q(kind, parent),))
        sub = transcript[2][1]
        if kind == "value":
            return Answer(sub if _value_ok(sub) else UNKNOWN)
        # a depth of n - 1 or more cannot be one less than a depth in an n-variable forest
        return Answer(sub + 1 if is_int(sub) and 0 <= sub < n - 1 else UNKNOWN)

    def _expand(self, var: str) -> Ask:
        return Ask((_q("root", var), _q("neighbors", var)))

    def _search(self, context: JSON, x: str, transcript: Transcript) -> Step:
        """One step of the breadth-first search from x, rebuilt from what the transcript learned."""
        n = _size(context)
        is_root: dict[str, bool] = {}
        nbrs: dict[str, list[str]] = {}
        for q, a in transcript:
            v = q["var"]  # the questions are the expert's own; only the answers can be garbage
            if q["kind"] == "root":
                if not _root_ok(a):
                    return Answer(UNKNOWN)
                is_root[v] = a is not None
            elif q["kind"] == "neighbors":
                found = _neighbor_list(a, v, n)
                if found is None:
                    return Answer(UNKNOWN)
                nbrs[v] = found
        if is_root.get(x):
            return Answer(x)
        order, pred = _bfs(x, nbrs)
        for v in order:
            if is_root.get(v):
                while pred[v] != x:
                    v = pred[v]
                return Answer(v)
        for v in order:
            if v not in is_root:
                return self._expand(v)
        return Answer(UNKNOWN)  # the whole tree is known and has no root: the subanswers were wrong

    # -- forms -------------------------------------------------------------------------------
    def validate_context(self, context: JSON) -> None:
        need(
            isinstance(context, dict) and set(context) == {"roots", "edges"},
            "context needs exactly 'roots' and 'edges'",
        )
        roots, edges = context["roots"], context["edges"]
        need(
            isinstance(roots, dict) and len(roots) > 0,
            "'roots' must map variable names to values, e.g. {\"v2\": 5}",
        )
        for name, value in roots.items():
            need(_index(name) is not None, f"'roots': '{name}' is not a variable name (v0, v1, …)")
            need(_value_ok(value), f"'roots': the value of {name} must be an integer 0..{VALUES - 1}")
        need(isinstance(edges, list), "'edges' must be a list of pairs of variables")
        for edge in edges:
            need(
                isinstance(edge, list) and len(edge) == 2 and all(_index(v) is not None for v in edge),
                f"'edges': {edge!r} is not a pair of variable names",
            )
            need(edge[0] != edge[1], f"'edges': {edge[0]}–{edge[1]} joins a variable to itself")
        n = _size(context)
        if not self.min_size <= n <= self.max_size:
            raise ParseError(
                f"'roots' and 'edges' name variables v0..v{n - 1}: a context has "
                f"{self.min_size}..{self.max_size} variables"
            )
        group = list(range(n))  # union-find over the edges: a join inside one group closes a cycle

        def find(i: int) -> int:
            while group[i] != i:
                group[i] = group[group[i]]
                i = group[i]
            return i

        for a, b in edges:
            ra, rb = find(_num(a)), find(_num(b))
            need(ra != rb, f"'edges': {a}–{b} closes a cycle; the edges must form a forest")
            group[ra] = rb
        roots_of: dict[int, list[str]] = {}
        for name in sorted(roots, key=_num):
            roots_of.setdefault(find(_num(name)), []).append(name)
        for i in range(n):
            found = roots_of.get(find(i), [])
            need(found != [], f"'roots': the tree containing v{i} has no root")
            need(
                len(found) == 1,
                f"'roots': the tree containing v{i} has {len(found)} roots ({', '.join(found)})",
            )

    def validate_question(self, question: JSON, context: JSON) -> None:
        kind = question.get("kind")
        need(kind in KINDS, f"unknown question kind {kind!r}: use one of {', '.join(KINDS)}")
        n = _size(context)
        fields = ("a", "b") if kind == "edge" else ("var",)
        form = ", ".join(f'"{f}": "v…"' for f in fields)
        need(set(question) == {"kind", *fields}, f'a {kind} question is {{"kind": "{kind}", {form}}}')
        for f in fields:
            need(_var_ok(question[f], n), f"unknown variable {question[f]!r}: use v0..v{n - 1}")
        if kind == "edge":
            need(question["a"] != question["b"], "an edge question names two different variables")

    def answer_ok(self, question: JSON, answer: JSON, context: JSON) -> bool:
        kind = question["kind"]
        n = _size(context)
        if kind == "value":
            return _value_ok(answer)
        if kind == "depth":
            return is_int(answer) and 0 <= answer < n
        if kind == "parent":
            return _var_ok(answer, n)
        if kind == "root":
            return _root_ok(answer)
        if kind == "neighbors":
            return _neighbor_list(answer, question["var"], n) is not None
        return isinstance(answer, bool)

    def answer_hint(self, question: JSON) -> str:
        return {
            "value": f"the answer is a value, an integer 0..{VALUES - 1}",
            "parent": "the answer is one variable, e.g. v3",
            "depth": "the answer is a number of edges, an integer ≥ 0",
            "root": f"the answer is the root's value 0..{VALUES - 1}, or none if it is not a root",
            "neighbors": "the answer is the neighbours, e.g. 'v1 v4', or [] for none",
            "edge": "the answer is yes or no",
        }.get(str(question.get("kind")), "see the task's answer form")

    def parse_answer(self, text: str, question: JSON, context: JSON) -> JSON:
        value = super().parse_answer(text, question, context)
        # one neighbour reads back as a bare name; store the list form that truth uses
        return (
            [value]
            if question["kind"] == "neighbors" and isinstance(value, str) and value != UNKNOWN
            else value
        )

    def render_context(self, context: JSON) -> str:
        adj = _adjacency(context)
        forest = _forest(context)
        lines: list[str] = []
        for root in sorted(context["roots"], key=_num):
            lines.append(f"root {root} = {context['roots'][root]}")
            for v in sorted((v for v in forest if forest[v][0] == root), key=_num):
                lines.append(f"  {v}: {' '.join(adj[v]) or '-'}")
        return "\n".join(lines)

    def context_tokens(self, context: JSON) -> list[str]:
        # one group a variable: its name, its root value or "-", its neighbours, then "|"
        roots = context["roots"]
        out: list[str] = []
        for v, nbrs in _adjacency(context).items():
            out += [v, str(roots[v]) if v in roots else "-", *nbrs, "|"]
        return out

    def question_text(self, question: JSON) -> str:
        if question["kind"] == "edge":
            return f"edge {question['a']} {question['b']}"
        return f"{question['kind']} {question['var']}"

    def parse_question(self, text: str, context: JSON) -> JSON:
        kind, args = split_question_text(text, KINDS)
        if kind == "edge":
            if len(args) != 2:
                raise ParseError("'edge' takes two variables, e.g. 'edge v1 v2'")
            q = {"kind": kind, "a": args[0], "b": args[1]}
        else:
            if len(args) != 1:
                raise ParseError(f"'{kind}' takes one variable, e.g. '{kind} v7'")
            q = _q(kind, args[0])
        self.validate_question(q, context)
        return q
