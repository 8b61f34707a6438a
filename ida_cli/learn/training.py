"""`ida train model`: gather everything stored, train ML, record a numbered version.

Amplified training (the default) learns ML.answer from every amplified node's final answer
(SPEC 2.2's L_ML, H' included) and ML.fan_out / ML.fan_in from the real overseer's steps (never
ML's own).
`--supervised` learns ML.answer from the ground truth of the training questions instead: the
baseline every learning curve is compared with. The eval split is never read here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ida_cli.errors import Interrupted, UsageError
from ida_cli.learn import checkpoints
from ida_cli.store import Store, records
from ida_cli.store.db import next_id, now
from ida_cli.store.records import loads
from ida_cli.tasks import get_task
from ida_cli.vocabulary import Answer, Ask, Step

HELD_OUT_EVERY = 10  # contexts with id % 10 == 0 decide early stopping


@dataclass
class TrainModelOptions:
    task: str | None = None
    supervised: bool = False
    minutes: float = 10.0
    max_steps: int = 0
    resume: bool = False
    seed: int = 0
    device: str = "auto"
    layers: int | None = None
    loop: int | None = None
    width: int | None = None
    batch: int = 32
    per_seq: int = 8
    eval_every: int = 200
    patience: int = 6
    lr: float = 1e-3
    warm: bool = False  # start from the latest version's weights (the experiment loop's cycles)
    distill: int = 0  # training questions to walk with ML in every role (SPEC 2.4); 0: off
    distill_confidence: float = 0.9  # keep a walk's root answer where Adv's P(wrong) ≤ 1 − this
    bucket: bool = False  # batches of similar lengths (TrainConfig.bucket)


@dataclass
class Rows:
    """Raw training rows: (context id, context, mode, question, transcript, target)."""

    items: list[tuple[int, Any, str, Any, list[tuple[Any, Any]], Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"answer": 0, "fan_out": 0, "fan_in": 0}
        for it in self.items:
            out[it[2]] += 1
        out["contexts"] = len({it[0] for it in self.items})
        return out


def gather(con: Any, task: str, supervised: bool) -> Rows:
    rows = Rows()
    if supervised:
        for cid, data, q, truth in con.execute(
            """SELECT c.id, c.data, q.question, q.truth
               FROM questions q JOIN contexts c ON c.id = q.context_id
               WHERE q.task = ? AND q.split = 'train' AND q.truth IS NOT NULL ORDER BY q.id""",
            [task],
        ).fetchall():
            rows.items.append((cid, loads(data), "answer", json.loads(q), [], json.loads(truth)))
        return rows
    contexts: dict[int, Any] = {}
    for cid, data in con.execute(
        """SELECT DISTINCT c.id, c.data FROM trees t JOIN contexts c ON c.id = t.context_id
           WHERE t.task = ? AND c.split <> 'eval'""",
        [task],
    ).fetchall():
        contexts[cid] = loads(data)
    nodes = con.execute(
        """SELECT n.id, n.parent_id, n.step, n.position, n.question, n.answer, n.recursed, t.context_id
           FROM nodes n JOIN trees t ON t.id = n.tree_id JOIN contexts c ON c.id = t.context_id
           WHERE t.task = ? AND c.split <> 'eval' ORDER BY n.parent_id, n.step, n.position""",
        [task],
    ).fetchall()
    children: dict[int, list[tuple[int, Any, Any]]] = {}
    info: dict[int, tuple[Any, int]] = {}
    for nid, parent, step, _pos, q, a, recursed, cid in nodes:
        question, answer = json.loads(q), json.loads(a)
        info[nid] = (question, cid)
        if parent is not None:
            children.setdefault(parent, []).append((step, question, answer))
        # L_ML: every amplified node's final answer (SPEC 2.2), also where the primed overseer H'
        # took ML's step for it: that answer still combines what the recursion below found. Not
        # ML's own answers to the subquestions it was left (not recursed), not "I don't know".
        # Before, nodes answered through H' were left out, and a primed run trained on ~10% of
        # its trees (wildcard, α' = −0.15: 81 of 720 roots after the first round)
        if recursed and answer != "?":
            rows.items.append((cid, contexts[cid], "answer", question, [], answer))
    for nid, kind, step, result in con.execute(
        """SELECT a.node_id, a.kind, a.step, a.result FROM actions a JOIN trees t ON t.id = a.tree_id
           JOIN contexts c ON c.id = t.context_id
           WHERE t.task = ? AND c.split <> 'eval' AND a.actor <> 'model' ORDER BY a.id""",
        [task],
    ).fetchall():
        question, cid = info[nid]
        res = json.loads(result)
        y: Step = Answer(res["answer"]) if "answer" in res else Ask(tuple(res["ask"]))
        transcript = [(sq, a) for s, sq, a in children.get(nid, []) if s < step] if kind == "fan_in" else []
        rows.items.append((cid, contexts[cid], kind, question, transcript, y))
    return rows


def resolve_task(con: Any, task: str | None) -> str:
    if task:
        get_task(task)
        return task
    tasks = [r[0] for r in con.execute("SELECT DISTINCT task FROM questions ORDER BY 1").fetchall()]
    default = records.get_settings(con).get("task")
    if default in tasks:
        return str(default)
    if len(tasks) == 1:
        return str(tasks[0])
    if not tasks:
        raise UsageError(
            "no questions yet: run `ida questions generate --task T --size N --count C --seed S`"
        )
    raise UsageError(f"several tasks have questions ({', '.join(tasks)}): choose one with --task")


def check_data(con: Any, task: str, rows: Rows, supervised: bool) -> None:
    if rows.items:
        return
    n_eval = con.execute(
        "SELECT count(*) FROM questions WHERE task = ? AND split = 'eval'", [task]
    ).fetchone()[0]
    n_train = con.execute(
        "SELECT count(*) FROM questions WHERE task = ? AND split = 'train'", [task]
    ).fetchone()[0]
    if n_eval and not n_train:
        raise UsageError(
            f"task {task} has only eval questions, which are never trained on: add training questions "
            f"with `ida questions generate --task {task} --split train ...`"
        )
    if supervised:
        raise UsageError(
            f"no training questions with ground truth for task {task}: run "
            f"`ida questions generate --task {task} --size N --count C --seed S`"
        )
    raise UsageError(
        f"no amplified trees for task {task} to train on: run `ida round --task {task}` first "
        "(or train the baseline with --supervised)"
    )


def train_model(
    store: Store, opts: TrainModelOptions, on_progress: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    from ida_cli.model import dist as distributed
    from ida_cli.learn import runner

    d = distributed.setup(opts.device)  # under torchrun: rank 0 writes, every rank trains
    from ida_cli.learn.distill import check_options, distill_targets

    if opts.minutes <= 0 and not opts.max_steps:
        raise UsageError("--minutes must be greater than 0")
    check_options(opts.distill, opts.distill_confidence, opts.supervised)
    with store.read() as con:
        task = resolve_task(con, opts.task)
        rows = gather(con, task, opts.supervised)
        check_data(con, task, rows, opts.supervised)
        resume_row = _resumable(con, task) if opts.resume else None
    distilled = None
    if opts.distill:
        # before the new version exists: the walk uses the latest model and adversary
        distilled = distill_targets(store, task, opts.distill, opts.distill_confidence, opts.seed)
        rows.items += distilled.rows
    if opts.resume and resume_row is None:
        raise UsageError(
            f"no interrupted model training for task {task} to resume: run `ida train model` without --resume"
        )
    if resume_row is not None:
        version, vid = resume_row[0], resume_row[1]
    elif not d.main:
        version, vid = d.broadcast(None)
    else:
        with store.write() as con:
            vid = next_id(con, "versions")
            version = (
                1
                + (
                    con.execute(
                        "SELECT coalesce(max(version), 0) FROM versions WHERE kind = 'model'"
                    ).fetchone()[0]
                )
            )
            con.execute(
                """INSERT INTO versions (id, kind, version, task, created_at, config, data_counts, status)
                   VALUES (?, 'model', ?, ?, ?, ?, ?, 'training')""",
                [
                    vid,
                    version,
                    task,
                    now(),
                    json.dumps({"supervised": opts.supervised}),
                    json.dumps(_counts(rows, distilled)),
                ],
            )
        d.broadcast((version, vid))
    ckdir = checkpoints.folder(store)
    warm = None
    if opts.warm and resume_row is None:
        from ida_cli.learn.versions import load_payload

        warm = load_payload(store, task)  # None for the first version: start from scratch
    started = time.perf_counter()
    try:
        result = runner.run(task, rows, opts, version, ckdir, HELD_OUT_EVERY, on_progress, warm)
    except KeyboardInterrupt:
        if not d.main:
            raise Interrupted("interrupted") from None
        with store.write() as con:
            con.execute("UPDATE versions SET status = 'interrupted' WHERE id = ?", [vid])
        raise Interrupted(
            f"interrupted: model v{version} saved at its last evaluation; continue with "
            "`ida train model --resume`"
        ) from None
    except BaseException:
        if d.main:
            with store.write() as con:
                con.execute("UPDATE versions SET status = 'failed' WHERE id = ?", [vid])
        raise
    metrics = {**result["metrics"], "wall_seconds": time.perf_counter() - started}
    if not d.main:
        return {"task": task, "version": version, "rank": d.rank, "metrics": metrics}
    with store.write() as con:
        checkpoints.publish(store, Path(result["checkpoint"]), result["sha256"], con)
        con.execute(
            """UPDATE versions SET status = 'ready', config = ?, data_counts = ?, metrics = ?, checkpoint = ?,
               sha256 = ? WHERE id = ?""",
            [
                json.dumps(result["config"]),
                json.dumps(_counts(rows, distilled)),
                json.dumps(metrics),
                str(result["checkpoint"]),
                result["sha256"],
                vid,
            ],
        )
    return {
        "task": task,
        "version": version,
        "supervised": opts.supervised,
        "data": _counts(rows, distilled),
        "checkpoint": str(result["checkpoint"]),
        "sha256": result["sha256"],
        "metrics": metrics,
        "config": result["config"],
        "rank": d.rank,
    }


def _counts(rows: Rows, distilled: Any) -> dict[str, Any]:
    out: dict[str, Any] = rows.counts()
    if distilled is not None:
        out["distill"] = distilled.stats()
    return out


def _resumable(con: Any, task: str) -> tuple[int, int] | None:
    row = con.execute(
        """SELECT version, id FROM versions
           WHERE kind = 'model' AND task = ? AND status IN ('training', 'interrupted')
           ORDER BY version DESC LIMIT 1""",
        [task],
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))
