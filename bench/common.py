"""A scratch copy of an experiment database for the bench scripts that train on one: the original,
its curve and its checkpoints are never written."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb


def copy_db(src: Path, prefix: str, checkpoints: bool = False) -> tuple[Path, Path]:
    """Copy `src` into a new temporary folder: (the folder, the copy). With `checkpoints` its
    checkpoint folder comes too and the versions name the copies (they store checkpoints by path).
    The caller removes the folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    db = tmp / ("scratch.duckdb")
    shutil.copy(src, db)
    if checkpoints:
        old, new = src.with_name(src.name + ".checkpoints"), db.with_name(db.name + ".checkpoints")
        shutil.copytree(old, new)
        with duckdb.connect(str(db)) as con:
            con.execute("UPDATE versions SET checkpoint = replace(checkpoint, ?, ?)", [str(old), str(new)])
    return tmp, db


def eval_nodes(store: Any, task_name: str) -> tuple[list[tuple[Any, Any]], list[int]]:
    """(context, question) of every node of the scripted full-HCH tree of every eval question, and
    each node's context id (the group a bootstrap over contexts resamples)."""
    import json

    from ida_cli.learn.evaluate import expert_steps
    from ida_cli.store.records import loads
    from ida_cli.tasks import get_task

    with store.read() as con:
        evals = con.execute(
            """SELECT c.id, c.data, q.question FROM questions q JOIN contexts c ON c.id = q.context_id
               WHERE q.task = ? AND q.split = 'eval' ORDER BY q.id""",
            [task_name],
        ).fetchall()
    task = get_task(task_name)
    nodes: list[tuple[Any, Any]] = []
    groups: list[int] = []
    for cid, data, q in evals:
        ctx = loads(data)
        for mode, sq, _, _ in expert_steps(task, ctx, json.loads(q), 10**6):
            if mode == "fan_out":
                nodes.append((ctx, sq))
                groups.append(cid)
    return nodes, groups


def with_eval_questions(src: Path, prefix: str, extra: int, seed: int = 7) -> tuple[Path, Any, str]:
    """A scratch copy of `src` with its checkpoints (copy_db) and `extra` more eval questions on
    fresh contexts, 4 to a context: (the folder, its Store, the task)."""
    from ida_cli.learn.data import resolve_task
    from ida_cli.project.questions import generate
    from ida_cli.store import Store

    tmp, db = copy_db(src, prefix, checkpoints=True)
    store = Store(db)
    with store.read() as con:
        task_name = resolve_task(con, None)
        size = con.execute("SELECT max(size) FROM questions WHERE split = 'eval'").fetchone()[0]
    if extra:
        generate(store, task_name, size, extra, seed, "eval", 4)
    return tmp, store, task_name
