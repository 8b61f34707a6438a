"""The worker side of a parallel round (ida_cli/rounds/parallel.py): walk a chunk of the round's trees
with the serial round's walker and lay them out as the serial round's rows, in an in-memory database.
Runs in local worker processes and in Ray tasks alike."""

from __future__ import annotations

import signal
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.rounds.common import make_walker, tally
from ida_cli.rounds.options import RoundOptions, RoundResult
from ida_cli.store import Store, treestore
from ida_cli.vocabulary import Node, Tree
from ida_cli.walk.ports import ML, Scorer
from ida_cli.walk.walker import Walker

# the id columns write_trees fills, table by table, with the table each one's ids belong to
ID_COLUMNS = {
    "trees": {"id": "trees", "root_id": "nodes"},
    "nodes": {"id": "nodes", "tree_id": "trees", "parent_id": "nodes"},
    "actions": {"id": "actions", "tree_id": "trees", "node_id": "nodes"},
}
TALLY = (
    *("trees", "overseer_calls", "primitive_calls", "memo_hits", "model_calls", "model_steps"),
    *("nodes", "steps", "recursions", "correct", "with_truth"),
)


@dataclass(frozen=True)
class Spec:
    """What a worker needs besides its rows: the round, and the versions of ML and Adv to load."""

    store: Store  # where the workers load ML and Adv from (they never write to it)
    opts: RoundOptions
    task: str
    trees: int
    round_id: int
    session_id: str
    model_version: int | None = None
    adversary_version: int | None = None
    scorer: bool = False


@dataclass
class ChunkOut:
    tables: dict[str, Any]  # table name → pyarrow Table, ids from 1
    tally: dict[str, int]
    batches: Counter[str]


_WORKER: dict[str, Walker] = {}  # session id → the round's walker
_SCRATCH: list[Any] = []  # the in-memory database a worker lays its rows out in


def warm_up() -> None:
    """Open the scratch database and lay out one tree there, so that what storing imports on first
    use (polars, pyarrow.dataset: a third of a second) is loaded before the first chunk comes."""
    if not _SCRATCH:
        _SCRATCH.append(treestore.scratch())
        _layout([Tree(task="warm-up", context=None, root=Node(question=0, answer=0))], None)


def _layout(trees: list[Tree], session_id: str | None) -> dict[str, Any]:
    """The rows treestore.write_trees makes of `trees`, as Arrow tables with ids from 1."""
    return treestore.layout(_SCRATCH[0], trees, session_id, list(ID_COLUMNS))


def walk_chunk(spec: Spec, start: int, rows: list[dict[str, Any]]) -> ChunkOut:
    """Walk rows[i] as tree number start + i of the round; return its rows and tallies."""
    if spec.session_id not in _WORKER:
        _WORKER.clear()
        _WORKER[spec.session_id] = make_walker(spec.opts, spec.task, spec.trees, *_load_models(spec))
    walker = _WORKER[spec.session_id]
    warm_up()
    walker.walked, walker.batches = start, Counter()
    part = RoundResult(spec.round_id, spec.task, spec.opts.strategy, spec.opts.oracle, 0, 0)
    trees = []
    items = ((r["context"], r["question"], r["id"]) for r in rows)
    for row, tree in zip(rows, walker.walk_many(items), strict=True):
        tree.round_id, tree.context_id = spec.round_id, row["context_id"]
        tally(part, tree, row)
        trees.append(tree)
    return ChunkOut(_layout(trees, spec.session_id), {k: getattr(part, k) for k in TALLY}, walker.batches)


def _load_models(spec: Spec) -> tuple[ML | None, Scorer | None]:
    if spec.model_version is None:
        return None, None
    import torch

    from ida_cli.learn.adversarial import load_scorer
    from ida_cli.learn.versions import load_model

    torch.set_num_threads(1)  # the workers share the cores
    ml = load_model(spec.store, spec.task, spec.model_version)
    if not spec.scorer:
        return ml, None
    scorer, _ = load_scorer(spec.store, spec.task, ml)
    if spec.adversary_version is not None and getattr(scorer, "version", None) != spec.adversary_version:
        raise UsageError(
            f"a new adversary was trained for task {spec.task} while the round started: run it again"
        )
    return ml, scorer


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
