"""What a label session is asked to do (`LabelOptions`) and what it did (`Summary`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LabelOptions:
    annotator: str
    task: str | None = None
    strategy: str | None = None  # None: the open round's, else adversary with a model, else full
    limit: int | None = None  # questions (finished or skipped) this session
    seed: int = 0  # a new round's seed (a resumed round keeps its own)
    temperature: float = 1.0
    overlap: int | None = None  # annotators each question is served to (None: the round's, else 1)
    # a subquestion you already answered in the tree is answered again from memory (a new round)
    memo: bool = False


@dataclass
class Summary:
    round_id: int
    task: str
    labelled: int = 0
    skipped: int = 0
    calls: int = 0
    status: str = "quit"
    message: str = ""
