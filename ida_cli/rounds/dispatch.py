"""The parent's side of a parallel round: `Dispatcher` runs the workers' `walk_chunk` over chunks of
the round's trees somewhere (subclasses say where: local processes in parallel.py, Ray tasks in
ray.py), takes their trees in order and stores them; only the parent writes to the database."""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from ida_cli.errors import IdaError, Interrupted
from ida_cli.rounds.common import FLUSH_SECONDS, FLUSH_TREES, commit, finish, ml_batches
from ida_cli.rounds.options import RoundOptions, RoundResult
from ida_cli.rounds.worker import ID_COLUMNS, TALLY, ChunkOut, Spec
from ida_cli.store import Store
from ida_cli.store.db import insert_frame, next_id
from ida_cli.walk.ports import ML, Scorer

ROW_KEYS = ("id", "context", "question", "context_id", "has_truth", "truth")
CHUNKS_PER_SLOT = 4  # enough chunks that the slots end together
CHUNK_MAX = 64  # trees per chunk: what a crash may lose, and how often the parent hears back
CHUNK_MAX_ML = 256  # with ML: a chunk's walks share ML's batched calls, 64 trees at a time


class WorkerCrashed(IdaError):
    """A worker process died (killed, out of memory): what had finished is kept."""


class Died(Exception):
    """Internal: a worker died; `how` says how if it is known."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


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
        """(chunk number, its output) as chunks finish; raises a worker's error, or Died."""
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
            result.ml_batches = ml_batches(batches)
            flush()
            finish(store, result.round_id, session_id, status)
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
            result.ml_batches = ml_batches(batches)
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
        except Died as died:
            lost = stop("failed")
            raise WorkerCrashed(
                f"a worker process died{died.how}: round {result.round_id} kept its {result.trees} "
                f"finished trees and lost {lost}; run `ida round` again for more"
            ) from None
        except BaseException:
            stop("failed")
            raise
        finish(store, result.round_id, session_id, "done")
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
