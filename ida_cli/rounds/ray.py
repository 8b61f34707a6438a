"""`ida round --ray ADDRESS`: the parallel round's chunks as Ray tasks on an existing cluster.
Imported only when --ray is given (Ray is an optional extra)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from ida_cli.errors import IdaError, UsageError
from ida_cli.rounds.dispatch import Died, Dispatcher
from ida_cli.rounds.worker import ChunkOut, Spec, walk_chunk


class RayDispatcher(Dispatcher):
    """Ray tasks on an existing cluster (`--ray ADDRESS`). Ray retries a task whose worker died; the
    workers load ML from the database's path, so it must be the same on every node."""

    def __init__(self, address: str) -> None:
        import logging

        import ray

        self._ray, self._owner = ray, not ray.is_initialized()
        if self._owner:
            _reachable(address)  # Ray itself retries an unreachable address for a minute
            try:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise UsageError(f"cannot reach the Ray cluster at {address}: {reason}") from None
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1)(walk_chunk)
        self._refs: dict[Any, int] = {}

    def start(self, spec: Spec, chunks: list[tuple[int, list[dict[str, Any]]]]) -> None:
        spec_ref = self._ray.put(spec)
        for number, (at, rows) in enumerate(chunks):
            self._refs[self._remote.remote(spec_ref, at, rows)] = number

    def completed(self) -> Iterator[tuple[int, ChunkOut]]:
        while self._refs:
            (ref,), _ = self._ray.wait(list(self._refs), num_returns=1)
            yield self._refs.pop(ref), self._get(ref)

    def _get(self, ref: Any) -> ChunkOut:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as e:
            if isinstance(e.cause, IdaError):
                raise e.cause from None
            raise
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError) as e:
            raise Died(f" ({type(e).__name__})") from None

    def salvage(self) -> list[tuple[int, ChunkOut]]:
        done, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        out = []
        for ref in done:
            with contextlib.suppress(Exception):
                out.append((self._refs[ref], self._ray.get(ref)))
        return out

    def close(self, kill: bool) -> None:
        for ref in self._refs if kill else []:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        if self._owner:
            self._ray.shutdown()


def _reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto", a ray:// client address: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise UsageError(
            f"cannot reach the Ray cluster at {address}: {e.strerror or e}; check the address, or start "
            "one with `ray start --head`"
        ) from None
