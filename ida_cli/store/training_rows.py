"""The rows ML trains on, read from stored trees, actions and questions."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ida_cli.store.records import loads
from ida_cli.vocabulary import Answer, Ask, Step, Transcript


@dataclass
class Rows:
    """Raw training rows: (context id, context, mode, question, transcript, target)."""

    items: list[tuple[int, Any, str, Any, Transcript, Any]] = field(default_factory=list)
    # the indices in `items` of each amplified tree's root answer: what the paper's answerer trains
    # on, and what an eval asks (`weighted`)
    roots: list[int] = field(default_factory=list)
    # each item's content key (equal keys: equal rows), or None for a row that no table holds (a
    # distilled target): the key under which `RowCache` and the learner's example memo keep what
    # they made of it. Empty: no item has one.
    keys: list[Hashable | None] = field(default_factory=list)

    def key(self, i: int) -> Hashable | None:
        return self.keys[i] if self.keys else None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"answer": 0, "fan_out": 0, "fan_in": 0}
        for it in self.items:
            out[it[2]] += 1
        out["contexts"] = len({it[0] for it in self.items})
        return out

    def weighted(self, root_weight: int) -> Rows:
        """The rows with each tree's root answer `root_weight` times: a round draws about one
        question per context, so a full-HCH replay holds one root answer among its tree's many step
        and subquestion rows, where supervised learning's rows are all root answers (unionfind,
        bench/topics/experiments.md). The copies share a context, so they land in its
        packed sequences and a drawn sequence weighs its root answer that much more."""
        if root_weight == 1 or not self.roots:
            return self
        extra = [i for i in self.roots for _ in range(root_weight - 1)]
        keys = [*self.keys, *(self.keys[i] for i in extra)] if self.keys else []
        return Rows([*self.items, *(self.items[i] for i in extra)], keys=keys)

    def plus(self, items: list[tuple[Any, ...]]) -> Rows:
        """These rows and `items` after them (rows no table holds: no key)."""
        keys = [*self.keys, *([None] * len(items))] if self.keys else []
        return Rows([*self.items, *items], keys=keys)


# (question, answer, q, a, (q, a), (question, answer)): a node's two texts parsed and as stored,
# and each pair as one object
Text = tuple[Any, Any, str, str, tuple[str, str], tuple[Any, Any]]


@dataclass
class RowCache:
    """What `training_rows` made of the stored text, kept across calls so that the online engine's
    every-cycle read parses only what is new: parsing every row again each cycle made the read grow
    with the replay (25 CPU s a cycle at permutation's 2.8 M rows, 43,000 full-HCH trees, more
    than the cycle's training). Keyed by the stored text (and a context by its id: contexts are
    never rewritten), so an entry cannot go stale; rows of equal content are one row
    (permutation's full-HCH replay: 1.1 M answer rows, 356,000 distinct), which also keeps a long
    run's memory to its distinct rows."""

    # a node's two texts: parsed, the first copy of each, and the pair of each (as a fan-in's key
    # and transcript hold them): one copy each however many rows name the node
    texts: dict[tuple[str, str], Text] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)  # a step's stored text: the step, parsed once
    # content key: (that key, the row); items and keys hold these objects, one of each per distinct
    # row, however often it repeats
    rows: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]] = field(default_factory=dict)
    seen: Seen | None = None  # how far the last read went: the next reads only what is newer

    def add(self, rows: Rows, key: tuple[Any, ...], make: Callable[[], tuple[Any, ...]]) -> None:
        """Append the row of content `key` to `rows`, made by `make` the first time it is seen."""
        hit = self.rows.get(key)
        if hit is None:
            hit = self.rows[key] = (key, make())
        rows.items.append(hit[1])
        rows.keys.append(hit[0])


CHUNK = 100_000  # rows fetched at a time: a read of millions holds its rows, not their text too


def _fetch(con: Any, sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    cur = con.execute(sql, params)
    while chunk := cur.fetchmany(CHUNK):
        yield from chunk


def training_rows(con: Any, task: str, supervised: bool, cache: RowCache | None = None) -> Rows:
    """Everything ML trains on for one task, never the eval split: the ground truth of the training
    questions (`supervised`), or every amplified node's final answer and every real overseer step.
    With `cache`, rows made by an earlier call are taken from it (the same rows, in the same
    order)."""
    rows = Rows()
    # without a cache, equal rows still share their objects within this read
    cache = cache if cache is not None else RowCache()
    if supervised:
        for cid, data, q, truth in _fetch(
            con,
            """SELECT c.id, c.data, q.question, q.truth
               FROM questions q JOIN contexts c ON c.id = q.context_id
               WHERE q.task = ? AND q.split = 'train' AND q.truth IS NOT NULL ORDER BY q.id""",
            [task],
        ):
            cache.add(
                rows,
                ("truth", cid, q, truth),
                lambda: (cid, loads(data), "answer", json.loads(q), (), json.loads(truth)),  # noqa: B023
            )
        return rows
    seen = cache.seen if cache.seen is not None and cache.seen.task == task else None
    if seen is not None and not _unchanged(con, seen):
        seen = None  # something before the last read changed (a step linked later): read it all
    got = _read_after(con, task, cache, seen)
    if got is None:  # the new rows do not sort after the old ones
        seen, got = None, _read_after(con, task, cache, None)
        assert got is not None
    cache.seen = got if seen is None else seen.then(got)
    return cache.seen.rows()


@dataclass
class Seen:
    """How far a cached read of one task's amplified rows went, and the rows it made in the three
    parts of the read's order (non-root answers by parent, root answers, overseer steps by id).
    Trees are stored whole with ids above every earlier one, so a later read needs only the nodes and
    steps above `node_id` and `action_id`, appended to each part; the read checks that and reads
    everything again when it does not hold."""

    task: str
    node_id: int = 0  # the highest node id read
    action_id: int = 0
    nodes: int = 0  # rows in the nodes and actions tables up to those ids that the read saw
    actions: int = 0
    parts: tuple[Rows, Rows, Rows] = field(default_factory=lambda: (Rows(), Rows(), Rows()))
    last_root: tuple[int, int, int] = (-1, -1, -1)  # the last root's (step, position, id)

    def then(self, new: Seen) -> Seen:
        """These rows and a later read's (`new` starts from this read's ids and last root)."""
        below, roots, steps = (
            Rows([*a.items, *b.items], keys=[*a.keys, *b.keys])
            for a, b in zip(self.parts, new.parts, strict=True)
        )
        nodes, actions = self.nodes + new.nodes, self.actions + new.actions
        parts = (below, roots, steps)
        return Seen(self.task, new.node_id, new.action_id, nodes, actions, parts, new.last_root)

    def rows(self) -> Rows:
        below, roots, steps = self.parts
        at = len(below.items)
        return Rows(
            [*below.items, *roots.items, *steps.items],
            list(range(at, at + len(roots.items))),
            [*below.keys, *roots.keys, *steps.keys],
        )


_SCOPE = """FROM nodes n JOIN trees t ON t.id = n.tree_id JOIN contexts c ON c.id = t.context_id
            WHERE t.task = ? AND c.split <> 'eval'"""
_ACTION_SCOPE = """FROM actions a JOIN trees t ON t.id = a.tree_id JOIN contexts c ON c.id = t.context_id
            WHERE t.task = ? AND c.split <> 'eval' AND a.actor <> 'model'"""


def _unchanged(con: Any, seen: Seen) -> bool:
    """Whether the nodes and steps up to the last read's ids are still the ones it read (a person's
    step gets its tree only when the tree is stored, under an id below later trees' steps)."""
    nodes = con.execute(f"SELECT count(*) {_SCOPE} AND n.id <= ?", [seen.task, seen.node_id]).fetchone()[0]
    actions = con.execute(
        f"SELECT count(*) {_ACTION_SCOPE} AND a.id <= ?", [seen.task, seen.action_id]
    ).fetchone()[0]
    return int(nodes) == seen.nodes and int(actions) == seen.actions


def _read_after(con: Any, task: str, cache: RowCache, seen: Seen | None) -> Seen | None:
    """The rows of the nodes and steps above `seen`'s ids (all, without it), or None where one of
    them does not sort after what `seen` read: a node under an earlier node, a root before the
    last, a step of an earlier node."""
    texts = cache.texts
    after_node, after_action = (seen.node_id, seen.action_id) if seen is not None else (0, 0)
    out = Seen(task, after_node, after_action, last_root=seen.last_root if seen is not None else (-1, -1, -1))
    below, roots, steps = out.parts
    contexts: dict[int, Any] = {}
    contexts_ids: dict[int, int] = {}
    for cid, data in con.execute(
        """SELECT DISTINCT c.id, c.data FROM trees t JOIN contexts c ON c.id = t.context_id
            WHERE t.task = ? AND c.split <> 'eval'
            AND t.id IN (SELECT tree_id FROM nodes WHERE id > ?)""",
        [task, after_node],
    ).fetchall():
        contexts[cid] = loads(data)
        contexts_ids[cid] = cid
    # n.id last: every root ties on the rest, and DuckDB returns ties in any order once the table is
    # large (24,918 of 2.8 M rows moved between two reads), so a resumed run packed other sequences
    nodes = _fetch(
        con,
        f"""SELECT n.id, n.parent_id, n.step, n.position, n.question, n.answer, n.recursed, t.context_id
            {_SCOPE} AND n.id > ? ORDER BY n.parent_id NULLS LAST, n.step, n.position, n.id""",
        [task, after_node],
    )
    children: dict[int, list[tuple[int, tuple[str, str], tuple[Any, Any]]]] = {}
    info: dict[int, tuple[Any, int, str]] = {}
    for nid, parent, step, pos, q, a, recursed, cid in nodes:
        if (parent is not None and parent <= after_node) or (
            parent is None and (step, pos, nid) < out.last_root
        ):
            return None
        out.nodes += 1
        out.node_id = max(out.node_id, nid)
        got = texts.get((q, a))
        if got is None:
            question, answer = json.loads(q), json.loads(a)
            got = texts[(q, a)] = (question, answer, q, a, (q, a), (question, answer))
        # the first copy of each text: a row's key keeps that one, not the copy its fetch made (a
        # permutation replay of 1.5 M distinct rows holds some 4,000 distinct node texts)
        question, answer, q, a, texts_key, parsed = got
        cid = contexts_ids.get(cid, cid)  # one int per context, not one per row
        info[nid] = (question, cid, q)
        if parent is not None:
            children.setdefault(parent, []).append((step, texts_key, parsed))
        # L_ML: every amplified node's final answer (docs/spec.md §2.2), also where the primed overseer H'
        # took ML's step for it: that answer still combines what the recursion below found. Not
        # ML's own answers to the subquestions it was left (not recursed), not "I don't know".
        # Before, nodes answered through H' were left out, and a primed run trained on ~10% of
        # its trees (wildcard, α' = −0.15: 81 of 720 roots after the first round)
        if parent is None:
            out.last_root = (step, pos, nid)
        if recursed and answer != "?":
            cache.add(
                below if parent is not None else roots,
                ("answer", cid, q, a),
                lambda: (cid, contexts[cid], "answer", question, (), answer),  # noqa: B023
            )
    for aid, nid, kind, step, result in _fetch(
        con,
        f"SELECT a.id, a.node_id, a.kind, a.step, a.result {_ACTION_SCOPE} AND a.id > ? ORDER BY a.id",
        [task, after_action],
    ):
        if nid not in info and seen is not None:  # (in a read of everything, every step's node is read)
            return None
        # steps repeat across contexts: one copy of each text in the rows' keys, one of each kind
        result, kind = sys.intern(result), sys.intern(kind)
        out.actions += 1
        out.action_id = max(out.action_id, aid)
        question, cid, q = info[nid]
        # a fan-in reads what its node's subquestions answered before it; a fan-out reads nothing
        below_it = [c for c in children.get(nid, []) if c[0] < step] if kind == "fan_in" else []
        transcript = tuple(c[2] for c in below_it)
        cache.add(
            steps,
            (kind, cid, q, result, *(c[1] for c in below_it)),
            lambda: (cid, contexts[cid], kind, question, transcript, _step(cache.steps, result)),  # noqa: B023
        )
    return out


def _step(known: dict[str, Step], result: str) -> Step:
    """The step stored as `result`, parsed once (steps are frozen, so rows can share one)."""
    got = known.get(result)
    if got is None:
        res = json.loads(result)
        got = known[result] = Answer(res["answer"]) if "answer" in res else Ask(tuple(res["ask"]))
    return got


def question_tasks(con: Any) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT DISTINCT task FROM questions ORDER BY 1").fetchall()]


def question_count(con: Any, task: str, split: str) -> int:
    row = con.execute("SELECT count(*) FROM questions WHERE task = ? AND split = ?", [task, split]).fetchone()
    return int(row[0])
