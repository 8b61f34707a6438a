"""Questions: seeded generation (docs/spec.md §6); import and export are in questions_io.py."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ida_cli import checks
from ida_cli.errors import UsageError
from ida_cli.store import Store, records
from ida_cli.tasks import BUILTIN, get_task
from ida_cli.vocabulary import JSON, canonical

SPLITS = ("train", "eval")
MAX_GENERATE = 10_000_000


def digest(task: str, context: JSON) -> str:
    return hashlib.sha1(f"{task}:{canonical(context)}".encode()).hexdigest()[:20]


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise UsageError(f"unknown split '{split}': use --split train or --split eval")


@dataclass
class Generated:
    task: str
    size: int
    split: str
    seed: int
    count: int
    contexts: int
    first_id: int
    last_id: int
    seconds: float


def generate(
    store: Store, task_name: str, size: int, count: int, seed: int, split: str = "train", per_context: int = 8
) -> Generated:
    """Make `count` questions, `per_context` to a fresh context. A context already stored in the
    other split is drawn again, so eval contexts are never shared with train."""
    task = get_task(task_name)
    if task_name not in BUILTIN:
        raise UsageError("the user task cannot be generated: add questions with `ida questions import FILE`")
    task.check_size(size)
    check_split(split)
    if not 1 <= count <= MAX_GENERATE:
        raise UsageError(f"--count must be between 1 and {MAX_GENERATE}")
    if per_context < 1:
        raise UsageError("--per-context must be at least 1")
    checks.seed(seed)
    started = time.perf_counter()
    # the split and task are part of the seed: the same --seed never gives eval the train contexts
    rng = np.random.default_rng([seed, SPLITS.index(split), BUILTIN.index(task_name)])
    with store.write() as con:
        other = {d for d, (_, s) in records.context_digests(con, task_name).items() if s != split}
        contexts: list[dict[str, Any]] = []
        questions: list[dict[str, Any]] = []
        redraws = 0
        while len(questions) < count:
            ctx = task.generate_context(size, rng)
            d = digest(task_name, ctx)
            if d in other:
                redraws += 1
                if redraws > 1000 + 10 * count:
                    raise UsageError(
                        f"could not draw {split} contexts unlike the other split's at size {size}: "
                        "use a larger --size or fewer questions"
                    )
                continue
            key = len(contexts)
            contexts.append(
                {"key": key, "task": task_name, "size": size, "split": split, "data": ctx, "digest": d}
            )
            for q in task.generate_questions(ctx, min(per_context, count - len(questions)), rng):
                questions.append(
                    {
                        "task": task_name,
                        "size": size,
                        "split": split,
                        "context_key": key,
                        "question": q,
                        "truth": task.truth(ctx, q),
                        "source": f"generate:{seed}",
                    }
                )
        _, first = records.insert_questions(con, contexts, questions)
    return Generated(
        task_name,
        size,
        split,
        seed,
        count,
        len(contexts),
        first,
        first + count - 1,
        time.perf_counter() - started,
    )
