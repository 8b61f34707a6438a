"""Trees in the store: write finished trees with their nodes and actions in one bulk write (polars /
Arrow), and load one back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ida_cli.errors import NotFound, UsageError
from ida_cli.store.db import insert_frame, next_id, now
from ida_cli.store.records import dumps, loads
from ida_cli.vocabulary import Node, Tree

Con = Any


def write_trees(con: Con, trees: Sequence[Tree], session_id: str | None) -> None:
    """Store finished trees with their nodes and actions in one bulk write. Trees whose ids are
    0 get fresh ids (node ids likewise); imported trees keep theirs."""
    import polars as pl

    if not trees:
        return
    tree_id, node_id = next_id(con, "trees"), next_id(con, "nodes")
    # (action ids only when there are actions: on PostgreSQL allocating them takes their own lock)
    action_id = next_id(con, "actions") if any(tree.actions for tree in trees) else 0
    created = now()
    t_rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "id",
            "round_id",
            "question_id",
            "task",
            "context_id",
            "root_id",
            "answer",
            "truth",
            "correct",
            "overseer_calls",
            "primitive_calls",
            "model_calls",
            "memo_hits",
            "nodes",
            "depth",
            "source",
            "created_at",
            "seconds",
        )
    }
    n_rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "id",
            "tree_id",
            "parent_id",
            "position",
            "step",
            "depth",
            "question",
            "answer",
            "actor",
            "score",
            "ml_answer",
            "ml_logp",
            "gumbel",
            "gumbel_threshold",
            "recursed",
            "primitive",
            "truth",
            "correct",
        )
    }
    a_rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "id",
            "tree_id",
            "node_id",
            "session_id",
            "actor",
            "kind",
            "step",
            "primitive",
            "result",
            "created_at",
            "seconds",
            "note",
        )
    }
    for tree in trees:
        if not tree.id:
            tree.id, tree_id = tree_id, tree_id + 1
        nodes = tree.nodes()
        if tree.source != "import":
            for node in nodes:
                node.id, node_id = node_id, node_id + 1
        parents: dict[int, tuple[int, int]] = {}
        for node in nodes:
            for pos, child in enumerate(node.children):
                parents[id(child)] = (node.id, pos)
        for node in nodes:
            parent, pos = parents.get(id(node), (None, 0))
            n_rows["id"].append(node.id)
            n_rows["tree_id"].append(tree.id)
            n_rows["parent_id"].append(parent)
            n_rows["position"].append(pos)
            n_rows["step"].append(node.step)
            n_rows["depth"].append(node.depth)
            n_rows["question"].append(dumps(node.question))
            n_rows["answer"].append(dumps(node.answer))
            n_rows["actor"].append(node.by)
            n_rows["score"].append(node.score)
            n_rows["ml_answer"].append(
                None if node.ml_logp is None and node.ml_answer is None else dumps(node.ml_answer)
            )
            n_rows["ml_logp"].append(node.ml_logp)
            n_rows["gumbel"].append(node.gumbel)
            n_rows["gumbel_threshold"].append(node.gumbel_threshold)
            n_rows["recursed"].append(node.recursed)
            n_rows["primitive"].append(node.primitive)
            n_rows["truth"].append(dumps(node.truth) if node.has_truth else None)
            n_rows["correct"].append(node.correct)
        for act in tree.actions:
            a_rows["id"].append(action_id)
            action_id += 1
            a_rows["tree_id"].append(tree.id)
            a_rows["node_id"].append(act.node.id)
            a_rows["session_id"].append(session_id)
            a_rows["actor"].append(act.actor)
            a_rows["kind"].append(act.kind)
            a_rows["step"].append(act.step)
            a_rows["primitive"].append(act.primitive)
            a_rows["result"].append(dumps(act.result))
            a_rows["created_at"].append(act.at)
            a_rows["seconds"].append(act.seconds)
            a_rows["note"].append(None if act.note is None else dumps(act.note))
        root = tree.root
        t_rows["id"].append(tree.id)
        t_rows["round_id"].append(tree.round_id)
        t_rows["question_id"].append(tree.question_id)
        t_rows["task"].append(tree.task)
        t_rows["context_id"].append(tree.context_id)
        t_rows["root_id"].append(root.id)
        t_rows["answer"].append(dumps(root.answer))
        t_rows["truth"].append(dumps(root.truth) if root.has_truth else None)
        t_rows["correct"].append(root.correct)
        t_rows["overseer_calls"].append(tree.overseer_calls)
        t_rows["primitive_calls"].append(tree.primitive_calls)
        t_rows["model_calls"].append(tree.model_calls)
        t_rows["memo_hits"].append(tree.memo_hits)
        t_rows["nodes"].append(len(nodes))
        t_rows["depth"].append(tree.depth)
        t_rows["source"].append(tree.source)
        t_rows["created_at"].append(created)
        t_rows["seconds"].append(tree.seconds)
    int64 = {
        k: pl.Int64
        for k in ("id", "tree_id", "parent_id", "node_id", "round_id", "question_id", "context_id", "root_id")
    }
    f64 = {k: pl.Float64 for k in ("score", "ml_logp", "gumbel", "gumbel_threshold", "seconds")}
    utf = {k: pl.Utf8 for k in ("ml_answer", "truth", "session_id", "answer", "note")}
    booleans = {"correct": pl.Boolean}

    def frame(rows: dict[str, list[Any]]) -> pl.DataFrame:
        overrides = {k: v for k, v in {**int64, **f64, **utf, **booleans}.items() if k in rows}
        return pl.DataFrame(rows, schema_overrides=overrides)

    insert_frame(con, "trees", frame(t_rows))
    insert_frame(con, "nodes", frame(n_rows))
    insert_frame(con, "actions", frame(a_rows))


def tree_ids_taken(con: Con, tree_id: int, node_ids: Sequence[int]) -> str | None:
    if con.execute("SELECT 1 FROM trees WHERE id = ?", [tree_id]).fetchone():
        return f"tree id {tree_id} is already taken"
    row = con.execute(
        "SELECT min(id) FROM nodes WHERE id IN (SELECT unnest(?::BIGINT[]))", [list(node_ids)]
    ).fetchone()
    if row and row[0] is not None:
        return f"node id {row[0]} is already taken"
    return None


def load_tree(con: Con, tree_id: int) -> Tree:
    row = con.execute(
        """SELECT t.task, t.root_id, t.question_id, t.round_id, t.context_id, c.data, t.overseer_calls,
                  t.primitive_calls, t.model_calls, t.source, t.seconds, t.memo_hits
           FROM trees t LEFT JOIN contexts c ON c.id = t.context_id WHERE t.id = ?""",
        [tree_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"no tree with id {tree_id}: see `ida export --table trees` for the ids")
    task, root_id, qid, rid, cid, ctx, oc, pc, mc, source, seconds, memo = row
    rows = con.execute(
        """SELECT id, parent_id, position, step, depth, question, answer, actor, score, ml_answer, ml_logp,
                  gumbel, gumbel_threshold, recursed, primitive, truth FROM nodes
           WHERE tree_id = ? ORDER BY parent_id NULLS FIRST, position""",
        [tree_id],
    ).fetchall()
    nodes: dict[int, Node] = {}
    for r in rows:
        nodes[r[0]] = Node(
            id=r[0],
            step=r[3],
            depth=r[4],
            question=loads(r[5]),
            answer=loads(r[6]),
            by=r[7],
            score=r[8],
            ml_answer=loads(r[9]),
            ml_logp=r[10],
            gumbel=r[11],
            gumbel_threshold=r[12],
            recursed=r[13],
            primitive=r[14],
            truth=loads(r[15]),
            has_truth=r[15] is not None,
        )
    for r in rows:  # ordered by (parent, position): children append in asking order
        if r[1] is not None:
            nodes[r[1]].children.append(nodes[r[0]])
    if root_id not in nodes:
        raise UsageError(f"tree {tree_id} has no root node stored")
    return Tree(
        task=task,
        context=loads(ctx),
        root=nodes[root_id],
        id=tree_id,
        question_id=qid,
        round_id=rid,
        context_id=cid,
        overseer_calls=oc,
        primitive_calls=pc,
        model_calls=mc,
        memo_hits=memo or 0,
        source=source,
        seconds=seconds or 0.0,
    )


def scratch() -> Con:
    """An in-memory database of the project's schema, one thread, for `layout`: there is no file
    and so no lock to take."""
    from pathlib import Path

    from ida_cli.store.db import Store

    store = Store(Path(":memory:"))
    con = store._connect(read_only=False)
    con.execute("SET threads = 1")
    store._migrate(con)
    return con


def layout(con: Con, trees: Sequence[Tree], session_id: str | None, tables: list[str]) -> dict[str, Any]:
    """The rows `write_trees` makes of `trees` in the scratch database `con`, as Arrow tables of
    `tables` with ids from 1; nothing is kept there."""
    con.execute("BEGIN TRANSACTION")
    try:
        write_trees(con, trees, session_id)
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY id").to_arrow_table() for t in tables}
    finally:
        con.execute("ROLLBACK")
