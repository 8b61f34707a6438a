"""One round of amplification (docs/spec.md §2): pick training questions, walk their trees, store them.

Questions are picked uniformly from the unlabelled training pool (`--pick random`) or by
Gumbel-top-k over −S of ML's answers to a random candidate set of them (`--pick adversary`). Trees
are walked many at a time (one batched ML call per kind per driver round) and come back in question
order. Finished trees are written in batches, each batch one short transaction, so a Ctrl-C keeps
every finished tree and discards only the ones being walked. With `--workers N` or `--ray ADDRESS`
the trees are walked, and laid out as rows, in other processes (ida_cli/rounds/parallel.py); the parent
alone writes, and the stored trees are those of the serial round.

Every random choice comes from the round's seed: the pick from `default_rng(seed)`, each tree's
draws from the walker's generator for its question id. With `--alpha-end` the recursion threshold
of tree number i (its position in the round's question order, i.e. ascending question id) is
`anneal(alpha, alpha_end, i / (n − 1))` for n trees; the round's params store alpha, alpha_end and
n ("trees"), so together with the node's stored draws every recursion decision reproduces."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ida_cli.errors import Interrupted, NoDatabase, UsageError
from ida_cli.rounds.common import (
    FLUSH_SECONDS,
    FLUSH_TREES,
    commit,
    default_task,
    finish,
    make_walker,
    ml_batches,
    tally,
)
from ida_cli.rounds.options import RoundOptions, RoundResult, check_options
from ida_cli.rounds.pick import PICK_CANDIDATES_MIN, PICK_CANDIDATES_PER_QUESTION, pick_by_adversary
from ida_cli.store import Store, claims, records, treestore
from ida_cli.tasks import get_task
from ida_cli.vocabulary import Tree
from ida_cli.walk.ports import ML, Scorer

if TYPE_CHECKING:
    from ida_cli.rounds.parallel import Dispatcher


def run_round(
    store: Store,
    opts: RoundOptions,
    progress: Callable[[int, int], None] | None = None,
    ml: ML | None = None,
    scorer: Scorer | None = None,
) -> RoundResult:
    opts.resolve_priming(ml is not None, callable(getattr(scorer, "score_steps", None)))
    check_options(opts, ml, scorer)
    if opts.workers is None and opts.ray is None:
        return _run_round(store, opts, progress, ml, scorer, None)
    from ida_cli.rounds.parallel import open_dispatcher

    # the workers start, or Ray is reached, at once: while the questions are picked, before any write
    with open_dispatcher(opts) as dispatcher:
        return _run_round(store, opts, progress, ml, scorer, dispatcher)


def _run_round(
    store: Store,
    opts: RoundOptions,
    progress: Callable[[int, int], None] | None,
    ml: ML | None,
    scorer: Scorer | None,
    dispatcher: Dispatcher | None,
) -> RoundResult:
    rng = np.random.default_rng(opts.seed)
    session_id = uuid.uuid4().hex
    if not store.exists():  # a round never creates a database: there would be nothing to amplify
        raise NoDatabase(f"no database at {store.display}: run `ida init` and `ida questions generate` first")
    with store.write() as con:
        task_name = opts.task or default_task(con)
        task = get_task(task_name)
        if not task.has_expert:
            raise UsageError(f"task {task_name} has no scripted expert: label it with `ida label`")
        if ml is not None and ml.task != task_name:
            raise UsageError(
                f"the model is for task {ml.task}, not {task_name}: "
                f"train one with `ida train model --task {task_name}`"
            )
        claims.expire_round_claims(con)
        pool = records.unlabelled_pool(con, task_name)
        if not pool:
            raise UsageError(
                f"no unlabelled training questions left for task {task_name}: run "
                f"`ida questions generate --task {task_name} --size N --count C --seed S`"
            )
        if opts.pick == "adversary":  # the candidates, scored below outside the lock
            size = min(len(pool), max(PICK_CANDIDATES_PER_QUESTION * opts.questions, PICK_CANDIDATES_MIN))
        else:
            size = min(opts.questions, len(pool))
        rows = records.load_questions(con, sorted(int(i) for i in rng.choice(pool, size=size, replace=False)))
    pick_params: dict[str, Any] = {}
    if opts.pick == "adversary":
        assert ml is not None and scorer is not None  # check_options
        rows, pick_params = pick_by_adversary(rows, opts.questions, opts.temperature, rng, ml, scorer)
    if len(pool) < opts.questions:  # say so: the round amplifies every one there is
        pick_params["questions_available"] = len(pool)
    result, rows = _create_round(store, opts, task_name, rows, pick_params, session_id, ml, rng)
    # proof of life for the round's claims while it walks (store/claims.py)
    with claims.Heartbeat(store, session_id):
        if dispatcher is not None:
            return dispatcher.walk(store, opts, rows, result, session_id, progress, ml, scorer)
        return _walk(store, opts, task_name, rows, result, session_id, progress, ml, scorer)


def _walk(
    store: Store,
    opts: RoundOptions,
    task_name: str,
    rows: list[dict[str, Any]],
    result: RoundResult,
    session_id: str,
    progress: Callable[[int, int], None] | None,
    ml: ML | None,
    scorer: Scorer | None,
) -> RoundResult:
    """Walk the round's trees in this process, writing finished ones in batches."""
    round_id = result.round_id
    walker = make_walker(opts, task_name, len(rows), ml, scorer)
    pending: list[Tree] = []
    last_flush = started = time.perf_counter()

    def flush() -> None:
        nonlocal pending, last_flush
        if pending:
            _, interrupted = commit(store, lambda con: treestore.write_trees(con, pending, session_id))
            result.tree_ids.extend(t.id for t in pending)
            pending = []
            if interrupted:
                raise KeyboardInterrupt
        last_flush = time.perf_counter()

    def keep(index: int, tree: Tree) -> None:
        row = rows[index]
        tree.round_id, tree.context_id = round_id, row["context_id"]
        tally(result, tree, row)
        pending.append(tree)

    trees = walker.walk_many((row["context"], row["question"], row["id"]) for row in rows)
    done = 0

    def stop() -> int:
        # trees finished behind a slower one are kept too; only those still being walked are lost
        for index, tree in trees.finished():
            keep(index, tree)
        result.ml_batches = ml_batches(walker.batches)
        flush()
        return trees.unfinished

    try:
        for tree in trees:
            keep(done, tree)
            done += 1
            if len(pending) >= FLUSH_TREES or time.perf_counter() - last_flush > FLUSH_SECONDS:
                flush()
            if progress:
                progress(done, len(rows))
        result.ml_batches = ml_batches(walker.batches)
        flush()
    except KeyboardInterrupt:
        lost = stop()
        result.status = "interrupted"
        finish(store, round_id, session_id, "interrupted")
        discarded = (
            "the unfinished one was discarded" if lost <= 1 else f"the {lost} unfinished were discarded"
        )
        raise Interrupted(
            f"interrupted: round {round_id} kept its {len(result.tree_ids)} finished trees; {discarded}"
        ) from None
    except BaseException:
        stop()
        finish(store, round_id, session_id, "failed")
        raise
    finish(store, round_id, session_id, "done")
    result.seconds = time.perf_counter() - started
    return result


def _create_round(
    store: Store,
    opts: RoundOptions,
    task_name: str,
    rows: list[dict[str, Any]],
    pick_params: dict[str, Any],
    session_id: str,
    ml: ML | None,
    rng: np.random.Generator,
) -> tuple[RoundResult, list[dict[str, Any]]]:
    with store.write() as con:
        # the pool was read in an earlier transaction (--pick adversary scores it outside the lock):
        # questions a person or another round took up meanwhile are left to them, and replaced by
        # questions still free (drawn at random) while any remain
        claims.expire_round_claims(con)
        gone = claims.taken(con, [row["id"] for row in rows])
        if gone:
            rows = [row for row in rows if row["id"] not in gone]
            picked = {row["id"] for row in rows}
            free = [i for i in records.unlabelled_pool(con, task_name) if i not in picked]
            more = min(opts.questions - len(rows), len(free))
            extra = sorted(int(i) for i in rng.choice(free, size=more, replace=False)) if more > 0 else []
            rows += records.load_questions(con, extra)
            pick_params = {**pick_params, "taken_meanwhile": len(gone), "replaced": len(extra)}
        if not rows:
            raise UsageError(
                f"every question picked for task {task_name} was taken up by another round or "
                "`ida label` session meanwhile: run the round again"
            )
        records.create_session(con, session_id, "round", opts.oracle, os.getpid())
        round_id = records.create_round(
            con,
            session_id=session_id,
            task=task_name,
            oracle=opts.oracle,
            strategy=opts.strategy,
            pick=opts.pick,
            params={
                **opts.params(),
                "trees": len(rows),
                **pick_params,
                "model_version": ml.version if ml is not None else None,
            },
            seed=opts.seed,
            questions=len(rows),
        )
        claims.claim_for_round(con, round_id, session_id, [row["id"] for row in rows])
    result = RoundResult(round_id, task_name, opts.strategy, opts.oracle, opts.questions, 0)
    result.pick_info = dict(pick_params)
    return result, rows


def load_models(store: Store, opts: RoundOptions) -> tuple[ML | None, Scorer | None, list[str]]:
    """The task's current ML and adversary where they exist (a `full` round then records ML's
    answers and scores on every child: the adversary's training data), and any staleness warning."""
    from ida_cli.learn.adversarial import load_scorer
    from ida_cli.learn.versions import load_model

    if not store.exists():
        return None, None, []
    with store.read() as con:
        task_name = opts.task or default_task(con)
    ml = load_model(store, task_name, required=False)
    if ml is None:
        return None, None, []
    scorer, warning = load_scorer(store, task_name, ml, required=False)
    return ml, scorer, [warning] if warning else []
