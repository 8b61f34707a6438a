"""Parallel rounds (`ida round --workers N` or `--ray ADDRESS`): the round's trees are walked in
worker processes or Ray tasks, and only the parent process writes to the database.

The picked rows are cut into contiguous chunks. A worker builds the round's walker with
`rounds.make_walker` (loading the model and adversary versions the parent has, if any) and walks a
chunk from its position in the round, so each tree draws from the generator of its question id and,
under an α schedule, uses the strategy of its position: the trees are those of the serial round.
The worker then lays the chunk out as rows with `treestore.write_trees` (the serial round's own code)
in an in-memory database of the project's schema, ids from 1, and returns Arrow tables and its
tallies; the parent shifts the ids past the database's and inserts the chunks in order, so tree,
node and action ids come out as in the serial round too. JSON encoding and building rows, most of
what storing costs, thus happen in the workers, and the parent only inserts.

Faults: a worker process that dies stops the round; the chunks already finished (also those behind
an unfinished one) are committed, the round is marked failed and WorkerCrashed says what was kept.
An error raised in a worker reaches the caller as itself; Ctrl-C keeps what finished, as serially."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import math
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from ida_cli.errors import IdaError, Interrupted, UsageError
from ida_cli.rounds.run import (
    FLUSH_SECONDS,
    FLUSH_TREES,
    RoundOptions,
    RoundResult,
    _finish,
    commit,
)
from ida_cli.rounds.worker import ID_COLUMNS, TALLY, ChunkOut, Spec, _ignore_sigint, walk_chunk, warm_up
from ida_cli.store import Store
from ida_cli.store.db import insert_frame, next_id
from ida_cli.walk.ports import ML, Scorer

ROW_KEYS = ("id", "context", "question", "context_id", "has_truth", "truth")
CHUNKS_PER_SLOT = 4  # enough chunks that the slots end together
CHUNK_MAX = 64  # trees per chunk: what a crash may lose, and how often the parent hears back
CHUNK_MAX_ML = 256  # with ML: a chunk's walks share ML's batched calls, 64 trees at a time


class WorkerCrashed(IdaError):
    """A worker process died (killed, out of memory): what had finished is kept."""


class _Died(Exception):
    """Internal: a worker died; `how` says how if it is known."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


def check_parallel(workers: int | None, ray: str | None) -> None:
    if workers is not None and ray is not None:
        raise UsageError("--workers and --ray do not go together: use one of them")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    if ray is not None and not ray.strip():
        raise UsageError("--ray needs the address of a Ray cluster, e.g. --ray 127.0.0.1:6379 or --ray auto")
    if ray is not None and importlib.util.find_spec("ray") is None:
        raise UsageError("--ray needs Ray, which is not installed: pip install 'ida[ray]'")


def chunk_size(trees: int, slots: int, ml: bool) -> int:
    """Scripted: a few chunks a slot, so the slots end together; with ML, one chunk a slot up to
    CHUNK_MAX_ML, so that ML's calls stay batched over many trees."""
    if ml:
        return max(1, min(CHUNK_MAX_ML, math.ceil(trees / slots)))
    return max(1, min(CHUNK_MAX, math.ceil(trees / (slots * CHUNKS_PER_SLOT))))


# -- in the parent ----------------------------------------------------------------------------
class Dispatcher:
    """Runs walk_chunk over chunks somewhere; subclasses say where."""

    slots = 1

    def start(self, spec: Spec, chunks: list[tuple[int, list[dict[str, Any]]]]) -> None:
        raise NotImplementedError

    def completed(self) -> Iterator[tuple[int, ChunkOut]]:
        """(chunk number, its output) as chunks finish; raises a worker's error, or _Died."""
        raise NotImplementedError

    def salvage(self) -> list[tuple[int, ChunkOut]]:
        """Chunks finished but not yet handed out, once completed() has stopped."""
        raise NotImplementedError

    def close(self, kill: bool) -> None:
        raise NotImplementedError

    def walk(
        self,
        store: Store,
        opts: RoundOptions,
        rows: list[dict[str, Any]],
        result: RoundResult,
        session_id: str,
        progress: Callable[[int, int], None] | None,
        ml: ML | None,
        scorer: Scorer | None,
    ) -> RoundResult:
        where = copy.copy(store)  # a Ray worker runs in another folder
        where.path = store.path.absolute()
        spec = Spec(
            where,
            opts,
            result.task,
            len(rows),
            result.round_id,
            session_id,
            None if ml is None else ml.version,
            getattr(scorer, "version", None),
            scorer is not None,
        )
        size = chunk_size(len(rows), self.slots, ml is not None)
        slim = [{k: r[k] for k in ROW_KEYS} for r in rows]
        self.start(spec, [(at, slim[at : at + size]) for at in range(0, len(rows), size)])
        ready: dict[int, ChunkOut] = {}
        pending: list[ChunkOut] = []
        batches: Counter[str] = Counter()
        following = 0
        last_flush = started = time.perf_counter()

        def take(out: ChunkOut) -> None:
            for key in TALLY:
                setattr(result, key, getattr(result, key) + out.tally[key])
            batches.update(out.batches)
            pending.append(out)

        def flush() -> None:
            nonlocal last_flush
            if pending:
                ids, interrupted = commit(store, lambda con: insert_chunks(con, pending))
                result.tree_ids.extend(ids)
                pending.clear()
                if interrupted:
                    raise KeyboardInterrupt
            last_flush = time.perf_counter()

        def stop(status: str) -> int:
            # chunks finished behind an unfinished one are kept too
            for _, out in sorted([*ready.items(), *self.salvage()], key=lambda x: x[0]):
                take(out)
            ready.clear()
            result.ml_batches = _ml_batches(batches)
            flush()
            _finish(store, result.round_id, session_id, status)
            return len(rows) - result.trees

        try:
            for number, out in self.completed():
                ready[number] = out
                while following in ready:
                    take(ready.pop(following))
                    following += 1
                    if progress:
                        progress(result.trees, len(rows))
                # as often as the serial round: a transaction costs DuckDB a checkpoint (~0.1 s)
                if result.trees - len(result.tree_ids) >= FLUSH_TREES or (
                    time.perf_counter() - last_flush > FLUSH_SECONDS
                ):
                    flush()
            result.ml_batches = _ml_batches(batches)
            flush()
        except KeyboardInterrupt:
            lost = stop("interrupted")
            result.status = "interrupted"
            discarded = (
                "the unfinished one was discarded" if lost <= 1 else f"the {lost} unfinished were discarded"
            )
            raise Interrupted(
                f"interrupted: round {result.round_id} kept its {result.trees} finished trees; {discarded}"
            ) from None
        except _Died as died:
            lost = stop("failed")
            raise WorkerCrashed(
                f"a worker process died{died.how}: round {result.round_id} kept its {result.trees} "
                f"finished trees and lost {lost}; run `ida round` again for more"
            ) from None
        except BaseException:
            stop("failed")
            raise
        _finish(store, result.round_id, session_id, "done")
        result.seconds = time.perf_counter() - started
        return result


def insert_chunks(con: Any, outs: list[ChunkOut]) -> list[int]:
    """Insert the chunks' rows in order with their ids shifted past the stored ones; the tree ids."""
    import polars as pl

    base = {table: next_id(con, table) - 1 for table in ID_COLUMNS}
    frames: dict[str, list[Any]] = {table: [] for table in ID_COLUMNS}
    for out in outs:
        for table, columns in ID_COLUMNS.items():
            frame = pl.from_arrow(out.tables[table])
            assert isinstance(frame, pl.DataFrame)
            frames[table].append(frame.with_columns(pl.col(c) + base[of] for c, of in columns.items()))
        for table in ID_COLUMNS:
            base[table] += out.tables[table].num_rows
    for table, parts in frames.items():
        insert_frame(con, table, pl.concat(parts))
    return [int(i) for part in frames["trees"] for i in part["id"]]


def _ml_batches(batches: Counter[str]) -> int:
    return sum(n for kind, n in batches.items() if not kind.startswith("score"))


class PoolDispatcher(Dispatcher):
    """Local worker processes. They come from a forkserver: a clean process with the walker's
    modules loaded, so forking is cheap and safe whatever threads (polars, torch) the parent has.
    The pool starts in a thread, while the parent picks the questions."""

    def __init__(self, workers: int) -> None:
        import threading

        self.slots = workers
        self._futures: dict[Any, int] = {}
        self._failed: list[BaseException] = []
        self._starting = threading.Thread(target=self._start_pool, name="ida-pool", daemon=True)
        self._starting.start()

    def _start_pool(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ida_cli.rounds.parallel"])
            self._pool = ProcessPoolExecutor(self.slots, mp_context=context, initializer=_ignore_sigint)
            for _ in range(self.slots):  # one submit starts one worker while none is idle
                self._pool.submit(warm_up)
            self._processes = list(getattr(self._pool, "_processes", {}).values())
        except BaseException as e:
            self._failed.append(e)

    def _ready(self) -> None:
        self._starting.join()
        if self._failed:
            raise self._failed[0]

    def start(self, spec: Spec, chunks: list[tuple[int, list[dict[str, Any]]]]) -> None:
        self._ready()
        for number, (at, rows) in enumerate(chunks):
            self._futures[self._pool.submit(walk_chunk, spec, at, rows)] = number

    def completed(self) -> Iterator[tuple[int, ChunkOut]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        while self._futures:
            done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self._futures[f]):
                number = self._futures.pop(future)
                try:
                    out = future.result()
                except BrokenProcessPool:
                    raise _Died(self._how()) from None
                yield number, out

    def _how(self) -> str:
        # once one worker has died the pool stops the others, which then exit with SIGTERM or 255;
        # under load the dead one may not be reaped yet, so wait briefly and report a signal first
        for process in self._processes:
            process.join(2)
        codes = [p.exitcode for p in self._processes if p.exitcode not in (None, 0)]
        killed = [c for c in codes if c < 0 and c != -signal.SIGTERM]
        others = [c for c in codes if c != -signal.SIGTERM]
        code = (killed or others or codes or [None])[0]
        if code is None:
            return ""
        return f" (killed by signal {-code})" if code < 0 else f" (exit code {code})"

    def salvage(self) -> list[tuple[int, ChunkOut]]:
        return [
            (n, f.result())
            for f, n in self._futures.items()
            if f.done() and not f.cancelled() and f.exception() is None
        ]

    def close(self, kill: bool) -> None:
        self._starting.join()
        if self._failed:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=not kill, cancel_futures=True)
        for process in processes if kill else []:
            if process.is_alive():
                process.terminate()
                process.join(5)


@contextlib.contextmanager
def open_dispatcher(opts: RoundOptions) -> Iterator[Dispatcher]:
    """Start the local workers, or reach the Ray cluster; stop them when the round ends."""
    if opts.ray is not None:
        from ida_cli.rounds.ray import RayDispatcher

        dispatcher: Dispatcher = RayDispatcher(opts.ray)
    else:
        dispatcher = PoolDispatcher(opts.workers or 1)
    try:
        yield dispatcher
    except BaseException:
        dispatcher.close(kill=True)
        raise
    dispatcher.close(kill=False)
