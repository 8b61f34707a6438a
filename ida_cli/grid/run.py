"""Running a grid: every cell not yet finished, as `ida experiment` in a process of its own, on
`workers` local slots or as tasks on an existing Ray cluster.

Resumable and idempotent: a cell whose results file exists is skipped; one that was cut off has
its database in the work folder, and `ida experiment` resumes it. The results folder is held by
one `ida grid` at a time (a lock file naming the process), so no cell runs twice."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ida_cli.errors import CannotWrite, IdaError, Interrupted, UsageError
from ida_cli.experiment import curvefile
from ida_cli.grid.spec import Cell

LOCK = ".ida-grid.lock"


@dataclass
class CellRun:
    cell: Cell
    status: str  # "skipped" (finished before), "finished", "failed", "deferred" (by --hours)
    seconds: float = 0.0
    path: Path | None = None
    message: str = ""
    points: list[dict[str, Any]] = field(default_factory=list)
    expected: float | None = None  # the wall seconds the schedule expected (grid.schedule)


@dataclass(frozen=True)
class Outcome:
    """What one cell's process gave: its exit code, its curve (stdout) and its last error line."""

    code: int
    stdout: str
    error: str
    seconds: float


def run_cell(argv: list[str], db: str, log: str, threads: int) -> Outcome:
    """One cell as `ida experiment` in its own process, its progress lines appended to `log`.
    Plain arguments and a plain result, so that a Ray worker can run it too."""
    env = {**os.environ, "IDA_THREADS": str(threads), "IDA_TRACEBACK": ""}
    cmd = [sys.executable, "-m", "ida_cli", "--db", db, "experiment", *argv, "--json"]
    start = time.monotonic()
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as err:
        err.write(f"# {' '.join(cmd)}\n")
        err.flush()
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, check=False)
    lines = [line for line in Path(log).read_text().splitlines() if line.startswith("error")]
    return Outcome(done.returncode, done.stdout, lines[-1] if lines else "", time.monotonic() - start)


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[None]:
    """The results folder for this process alone; a second `ida grid` is told who holds it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = open(folder / LOCK, "a+")  # noqa: SIM115 - held until the grid ends
    except OSError as e:
        raise CannotWrite(
            f"cannot write to the results folder {folder}: {e.strerror}; choose another --results"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UsageError(
                f"the results folder {folder} is in use by `ida grid` ({holder}): wait for it to "
                "finish, or give another --results"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def check_writable(folder: Path) -> None:
    probe = folder / f".ida-grid-probe{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise CannotWrite(
            f"cannot write to the results folder {folder}: {e.strerror}; choose another --results"
        ) from None


Event = Callable[[str, CellRun, int, int], None]  # phase, cell, done so far, cells to run


def run_grid(
    cells: list[Cell],
    results: Path,
    work: Path,
    workers: int = 1,
    threads: int | None = None,
    ray: str | None = None,
    on_event: Event | None = None,
    hours: float | None = None,
) -> list[CellRun]:
    """Run every unfinished cell, the longest expected first; with `hours`, start only the cells
    expected to end within that many hours of the start (the others are deferred). Return each
    cell's run, skipped and deferred ones included, in grid order."""
    from ida_cli.grid import schedule

    if workers < 1:
        raise UsageError("--workers must be at least 1")
    schedule.check_hours(hours)
    if threads is not None and threads < 1:
        raise UsageError("--threads must be at least 1")
    # a Ray task holds one CPU of its node; local workers share this machine's cores
    threads = threads or (1 if ray is not None else max(1, (os.cpu_count() or 1) // workers))
    began = time.monotonic()
    limit = hours * 3600 if hours is not None else None
    work = work.resolve()  # a Ray worker's current folder is not this one
    with holding(results):
        check_writable(results)
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CannotWrite(
                f"cannot create the work folder {work}: {e.strerror}; choose another --work"
            ) from None
        out = {c.key: CellRun(c, "skipped", path=c.path(results)) for c in cells if c.path(results).exists()}
        todo = [c for c in cells if c.key not in out]
        expect = schedule.expected(todo, schedule.history(results))
        emit = on_event or (lambda *_: None)
        for run in out.values():
            emit("skipped", run, 0, len(todo))
        submit = _ray_pool(ray) if ray is not None and todo else None
        # on Ray every cell is submitted at once and the cluster schedules them, a CPU each
        slots = workers if ray is None else max(1, len(todo))
        done = 0
        with ThreadPoolExecutor(max_workers=slots) as pool:
            running: dict[Future[Outcome], Cell] = {}
            queue = schedule.longest_first(todo, expect)

            def start(cell: Cell) -> None:
                emit("start", CellRun(cell, "running", expected=expect.get(cell.key)), done, len(todo))
                args = (cell.argv(), str(work / f"{cell.key}.duckdb"), str(work / f"{cell.key}.log"), threads)
                running[pool.submit(submit, *args) if submit else pool.submit(run_cell, *args)] = cell

            try:
                while queue or running:
                    while queue and len(running) < slots:
                        cell = queue.pop(0)
                        if schedule.fits(expect.get(cell.key), time.monotonic() - began, limit):
                            start(cell)
                            continue
                        left = max(0.0, (limit or 0.0) - (time.monotonic() - began))
                        run = CellRun(
                            cell,
                            "deferred",
                            expected=expect.get(cell.key),
                            message=(
                                f"expected to take {(expect.get(cell.key) or 0) / 60:.0f} min, "
                                f"{left / 60:.0f} min of --hours left"
                            ),
                        )
                        out[cell.key] = run
                        done += 1
                        emit("deferred", run, done, len(todo))
                    if not running:
                        break
                    finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for fut in finished:
                        cell = running.pop(fut)
                        run = _record(cell, _outcome(fut), results, ray or "local")
                        out[cell.key] = run
                        done += 1
                        emit(run.status, run, done, len(todo))
            except KeyboardInterrupt:
                for fut in running:
                    fut.cancel()
                raise Interrupted(
                    f"grid interrupted: {done} of {len(todo)} cells finished and kept; rerun the same "
                    "command to resume the rest"
                ) from None
    return [out[c.key] for c in cells]


def _outcome(fut: Future[Outcome]) -> Outcome:
    """The cell's outcome; a Ray task whose node or worker died fails the cell, which resumes from
    its database on the next run."""
    try:
        return fut.result()
    except Exception as e:
        first = (str(e).splitlines() or [""])[0]
        return Outcome(1, "", f"{type(e).__name__}: {first}", 0.0)


def _record(cell: Cell, got: Outcome, results: Path, where: str) -> CellRun:
    import json

    if got.code != 0:
        return CellRun(cell, "failed", got.seconds, message=got.error or f"exit code {got.code}")
    try:
        points = json.loads(got.stdout)
    except json.JSONDecodeError:
        return CellRun(cell, "failed", got.seconds, message="the experiment wrote no curve")
    path = curvefile.write(cell.path(results), cell.describe(), points, got.seconds, where)
    return CellRun(cell, "finished", got.seconds, path, points=points)


def _ray_pool(address: str) -> Callable[..., Outcome]:
    """A function that runs a cell as a Ray task and waits for it (called from a pool thread)."""
    import logging

    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'ida[ray]'") from None
    from ida_cli.rounds.ray import _reachable

    try:
        _reachable(address)
        if not ray.is_initialized():
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except UsageError as e:
        raise IdaError(str(e)) from None  # the cluster, not the flags: exit 1, no cell started
    except (ConnectionError, ValueError, RuntimeError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise IdaError(f"cannot reach the Ray cluster at {address}: {reason}") from None
    remote = ray.remote(num_cpus=1)(run_cell)

    def submit(*args: Any) -> Outcome:
        return ray.get(remote.remote(*args))

    return submit
