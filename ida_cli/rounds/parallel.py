"""Parallel rounds (`ida round --workers N` or `--ray ADDRESS`): the round's trees are walked in
worker processes or Ray tasks, and only the parent process writes to the database.

The picked rows are cut into contiguous chunks. A worker builds the round's walker with
`rounds.common.make_walker` (loading the model and adversary versions the parent has, if any) and walks a
chunk from its position in the round, so each tree draws from the generator of its question id and,
under an α schedule, uses the strategy of its position: the trees are those of the serial round.
The worker then lays the chunk out as rows with `treestore.write_trees` (the serial round's own code)
in an in-memory database of the project's schema, ids from 1, and returns Arrow tables and its
tallies; the parent shifts the ids past the database's and inserts the chunks in order, so tree,
node and action ids come out as in the serial round too. JSON encoding and building rows, most of
what storing costs, thus happen in the workers, and the parent only inserts.

A worker leaves its chunk in a file of the pool's outbox folder and returns only the file's name.
A result that large, sent through the pool's pipe, could be cut off by a worker killed while
writing it, and the pool's manager would wait forever for the rest (seen: one run in 30 of the
killed-worker test hung so); a name is one write shorter than the pipe's atomic size.

Faults: a worker process that dies stops the round; the chunks already finished (also those behind
an unfinished one) are committed, the round is marked failed and WorkerCrashed says what was kept.
An error raised in a worker reaches the caller as itself; Ctrl-C keeps what finished, as serially."""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

from ida_cli.rounds.dispatch import Died, Dispatcher, WorkerCrashed
from ida_cli.rounds.options import RoundOptions
from ida_cli.rounds.worker import ChunkOut, Spec, ignore_sigint, walk_chunk, warm_up

__all__ = ["Died", "Dispatcher", "PoolDispatcher", "WorkerCrashed", "open_dispatcher"]


class PoolDispatcher(Dispatcher):
    """Local worker processes. They come from a forkserver: a clean process with the walker's
    modules loaded, so forking is cheap and safe whatever threads (polars, torch) the parent has.
    The pool starts in a thread, while the parent picks the questions."""

    def __init__(self, workers: int) -> None:
        import threading

        # more processes than cores only contend (and --workers 1000 would start a thousand)
        self.slots = min(workers, os.cpu_count() or 1)
        self._futures: dict[Any, int] = {}
        self._failed: list[BaseException] = []
        self._outbox = tempfile.mkdtemp(prefix="ida-round-")
        self._starting = threading.Thread(target=self._start_pool, name="ida-pool", daemon=True)
        self._starting.start()

    def _start_pool(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["ida_cli.rounds.parallel"])
            self._pool = ProcessPoolExecutor(self.slots, mp_context=context, initializer=ignore_sigint)
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
            self._futures[self._pool.submit(walk_to_file, spec, at, rows, self._outbox)] = number
        # a warm-up that finished before the next one was submitted left its worker idle, so the
        # pool started the others only now: record every worker, or `_how` cannot name the one
        # that died
        self._processes = list(getattr(self._pool, "_processes", {}).values())

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
                    raise Died(self._how()) from None
                yield number, _take(out)

    def _how(self) -> str:
        # Once one worker has died, the pool's manager thread stops the others and joins them all.
        # Wait for it first: a forkserver child's exit code is read once from a pipe, so a second
        # reader racing the manager's join gets end-of-file and records 255 for a SIGKILL.
        manager = getattr(self._pool, "_executor_manager_thread", None)
        if manager is not None:
            manager.join(10)
        for process in self._processes:  # a no-op once the manager has joined them
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
            (n, _take(f.result()))
            for f, n in self._futures.items()
            if f.done() and not f.cancelled() and f.exception() is None
        ]

    def close(self, kill: bool) -> None:
        self._starting.join()
        try:
            self._stop(kill)
        finally:
            shutil.rmtree(self._outbox, ignore_errors=True)

    def _stop(self, kill: bool) -> None:
        if self._failed:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=not kill, cancel_futures=True)
        for process in processes if kill else []:
            if process.is_alive():
                process.terminate()
                process.join(5)


def walk_to_file(spec: Spec, at: int, rows: list[dict[str, Any]], outbox: str) -> str:
    """walk_chunk in a pool worker: the chunk goes to a file in `outbox`, its name to the parent."""
    out = walk_chunk(spec, at, rows)
    fd, path = tempfile.mkstemp(suffix=".chunk", dir=outbox)
    with os.fdopen(fd, "wb") as f:
        pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _take(path: str) -> ChunkOut:
    """A finished chunk, read back from its file (the file is this process's own temp data)."""
    with open(path, "rb") as f:
        out: ChunkOut = pickle.load(f)
    os.unlink(path)
    return out


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
