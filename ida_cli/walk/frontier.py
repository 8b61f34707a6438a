"""Many walks at once over one batched model (docs/spec.md §2: "batched over the whole frontier").

A walk is a generator-based coroutine: it runs synchronously (a scripted or human overseer answers
at once) until it needs the model or the adversary, then yields a Request and is sent the results.
The Frontier keeps up to `concurrency` coroutines active, gathers every pending request, makes one
call per kind for all of them, sends each coroutine its share back, and repeats. Results come out in
input order, so what a caller sees does not depend on how the walks were interleaved."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

KINDS = ("answer", "fan_out", "fan_in", "score", "score_fan_out", "score_fan_in")


@dataclass
class Request:
    """One coroutine's need: `items` go into a batched call of `kind` ("answer", "fan_out" and
    "fan_in" to ML; "score" to the adversary for ML's answers, "score_fan_out" and "score_fan_in"
    for ML's steps, items (context, question, transcript, step)); the reply is one result per item,
    in order."""

    kind: str
    items: list[tuple[Any, ...]]


Co = Generator[Request, list[Any], T]
Serve = Callable[[str, list[tuple[Any, ...]]], list[Any]]


@dataclass
class Job:
    """Bookkeeping a coroutine may read: its index in the input and the time it has cost."""

    index: int
    seconds: float = 0.0  # its own steps plus its share of the batched calls
    served: float = 0.0  # the share of the batched calls alone


@dataclass
class _Active(Generic[T]):
    job: Job
    coro: Co[T]
    request: Request


class Frontier(Generic[T]):
    """An iterator over the coroutines' return values in input order.

    Finished values wait in a bounded buffer until every earlier one is out; `finished()` hands
    them over when iteration is cut short (Ctrl-C), so no finished walk is lost."""

    def __init__(
        self,
        starts: Iterable[Callable[[Job], Co[T]]],
        serve: Serve,
        concurrency: int = 64,
        finish: Callable[[T, Job], T] | None = None,
        recursion_limit: int = 0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._starts = enumerate(starts)
        self._serve = serve
        self._concurrency = concurrency
        self._finish = finish
        self._recursion_limit = recursion_limit  # nested `yield from` chains are as deep as the tree
        self._active: dict[int, _Active[T]] = {}
        self._done: dict[int, T] = {}
        self._next = 0
        self._exhausted = False
        self.rounds = 0  # driver rounds that served at least one request

    def __iter__(self) -> Frontier[T]:
        return self

    def __next__(self) -> T:
        limit = sys.getrecursionlimit()
        if self._recursion_limit > limit:
            sys.setrecursionlimit(self._recursion_limit)
        try:
            while self._next not in self._done:
                self._fill()
                if self._next in self._done:
                    break
                if not self._active:
                    raise StopIteration
                self._round()
            self._next += 1
            return self._done.pop(self._next - 1)
        finally:
            sys.setrecursionlimit(limit)

    @property
    def unfinished(self) -> int:
        return len(self._active)

    def finished(self) -> list[tuple[int, T]]:
        """Values finished but not yet returned, in input order; the iterator moves past them."""
        out = sorted(self._done.items())
        self._done.clear()
        return out

    def _fill(self) -> None:
        # stop as soon as the next value is ready, so that walks needing no model run one at a time
        # and a caller sees each tree as soon as it exists; the buffer bound keeps one slow walk from
        # pulling the whole input into memory
        while (
            not self._exhausted
            and len(self._active) < self._concurrency
            and len(self._done) < 4 * self._concurrency
            and self._next not in self._done
        ):
            try:
                index, start = next(self._starts)
            except StopIteration:
                self._exhausted = True
                return
            job = Job(index)
            self._advance(job, start(job), None)

    def _round(self) -> None:
        self.rounds += 1
        groups: dict[str, list[_Active[T]]] = {}
        for active in self._active.values():
            groups.setdefault(active.request.kind, []).append(active)
        replies: list[tuple[_Active[T], list[Any]]] = []
        for kind in sorted(groups):
            members = groups[kind]
            items = [item for m in members for item in m.request.items]
            t0 = time.perf_counter()
            results = list(self._serve(kind, items))
            if len(results) != len(items):
                raise RuntimeError(f"a batched {kind} call returned {len(results)} results for {len(items)}")
            share = (time.perf_counter() - t0) / len(items)
            at = 0
            for m in members:
                n = len(m.request.items)
                m.job.seconds += share * n
                m.job.served += share * n
                replies.append((m, results[at : at + n]))
                at += n
        for m, reply in replies:
            self._advance(m.job, m.coro, reply)

    def _advance(self, job: Job, coro: Co[T], reply: list[Any] | None) -> None:
        t0 = time.perf_counter()
        try:
            while True:
                request = coro.send(reply) if reply is not None else next(coro)
                if request.items:
                    break
                reply = []  # nothing to ask: answer at once rather than spend a round on it
        except StopIteration as stop:
            job.seconds += time.perf_counter() - t0
            self._active.pop(job.index, None)
            value: T = stop.value
            self._done[job.index] = self._finish(value, job) if self._finish else value
            return
        job.seconds += time.perf_counter() - t0
        self._active[job.index] = _Active(job, coro, request)
