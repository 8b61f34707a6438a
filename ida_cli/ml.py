"""What the walker needs from ML, whatever network is behind it: batched greedy answers and
imitations of the overseer's steps, each with its log-probability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ida_cli.tasks.base import JSON, Step, Transcript


class ML(Protocol):
    task: str
    version: int

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        """(context, question) pairs → (greedy answer, log p). A malformed output is "?"."""
        ...

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        """(context, question) pairs → ML's imitation of H.fan_out, with log p."""
        ...

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        """(context, question, transcript) triples → ML's imitation of H.fan_in, with log p."""
        ...
