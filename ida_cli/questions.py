"""Questions: seeded generation, import from JSONL/CSV/Parquet, export (SPEC 6)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ida_cli.errors import ImportFileError, ParseError, UsageError
from ida_cli.store import Store, records
from ida_cli.tasks import BUILTIN, USER, get_task
from ida_cli.tasks.base import JSON, canonical

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


# -- import ---------------------------------------------------------------------------------------
@dataclass
class Imported:
    path: str
    count: int
    tasks: dict[str, int]
    first_id: int
    last_id: int


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs; line numbers as a person sees them in the file."""
    if not path.is_file():
        raise UsageError(f"no file {path}: give a JSONL, CSV or Parquet file of questions")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ImportFileError(str(path), lineno, "-", f"not valid JSON ({e.msg})") from None
                if not isinstance(obj, dict):
                    raise ImportFileError(str(path), lineno, "-", "each line must be a JSON object")
                rows.append((lineno, obj))
        return rows
    import polars as pl

    try:
        if suffix == ".csv":
            frame = pl.read_csv(path, infer_schema=False)
            offset = 2  # the header is line 1
        elif suffix == ".parquet":
            frame = pl.read_parquet(path)
            offset = 1
        else:
            raise UsageError(f"cannot tell the format of {path}: use a .jsonl, .csv or .parquet file")
    except (pl.exceptions.PolarsError, OSError) as e:
        raise ImportFileError(str(path), 1, "-", f"cannot be read ({str(e).splitlines()[0]})") from None
    return [
        (i + offset, {k: v for k, v in row.items() if v is not None})
        for i, row in enumerate(frame.iter_rows(named=True))
    ]


def _json_field(value: Any, text_ok: bool, encoded: bool) -> JSON:
    """CSV and Parquet carry JSON values as text (`encoded`); JSONL carries them as JSON."""
    if isinstance(value, str) and encoded:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            if text_ok:
                return value
            raise
        return value if text_ok and not isinstance(parsed, str) else parsed
    return value


def import_file(store: Store, path: Path, split: str | None = None) -> Imported:
    """Validate every row first; import all of them in one transaction or none."""
    if split is not None:
        check_split(split)
    rows = _read_rows(path)
    encoded = path.suffix.lower() in (".csv", ".parquet")
    if not rows:
        raise UsageError(f"{path} has no rows: nothing was imported")
    parsed: list[dict[str, Any]] = []
    for lineno, row in rows:

        def fail(field: str, problem: str, lineno: int = lineno) -> ImportFileError:
            return ImportFileError(str(path), lineno, field, problem)

        task_name = str(row.get("task", USER))
        if task_name not in (*BUILTIN, USER):
            raise fail("task", f"unknown task '{task_name}' (use one of {', '.join((*BUILTIN, USER))})")
        task = get_task(task_name)
        is_user = task_name == USER
        row_split = str(row.get("split", split or "train"))
        if split is not None:
            row_split = split
        if row_split not in SPLITS:
            raise fail("split", f"'{row_split}' is not train or eval")
        if "question" not in row:
            raise fail("question", "missing")
        values: dict[str, JSON] = {}
        for field in ("context", "question", "truth", "answer"):
            if field in row:
                try:
                    values[field] = _json_field(row[field], text_ok=is_user, encoded=encoded)
                except json.JSONDecodeError:
                    raise fail(field, "is not valid JSON") from None
        context = values.get("context")
        try:
            task.validate_context(context)
        except ParseError as e:
            raise fail("context", str(e)) from None
        except (KeyError, TypeError, ValueError, AttributeError):
            raise fail("context", f"not a {task_name} context (see SPEC 6.1)") from None
        try:
            task.check_question(values["question"], context)
        except ParseError as e:
            raise fail("question", str(e)) from None
        except (KeyError, TypeError, ValueError, AttributeError):
            raise fail("question", f"not a {task_name} question (see SPEC 6.1)") from None
        given = values.get("truth", values.get("answer"))
        truth_field = "truth" if "truth" in values else "answer"
        if is_user:
            truth = None if given is None else str(given)
            size = 0
        else:
            truth = task.truth(context, values["question"])
            if given is not None and canonical(given) != canonical(truth):
                raise fail(truth_field, f"{canonical(given)} is not the ground truth ({canonical(truth)})")
            size = task.context_size(context)
        parsed.append(
            {
                "task": task_name,
                "size": size,
                "split": row_split,
                "context": context,
                "question": values["question"],
                "truth": truth,
                "line": lineno,
            }
        )
    with store.write() as con:
        contexts: list[dict[str, Any]] = []
        keys: dict[tuple[str, str], int] = {}
        stored: dict[str, dict[str, tuple[int, str]]] = {}
        questions = []
        for p in parsed:
            d = digest(p["task"], p["context"])
            if p["task"] not in stored:
                stored[p["task"]] = records.context_digests(con, p["task"])
            known = stored[p["task"]].get(d)
            if known and p["task"] != USER and known[1] != p["split"]:
                raise ImportFileError(
                    str(path),
                    p["line"],
                    "context",
                    f"this context is already in the {known[1]} split; eval and train never share contexts",
                )
            q: dict[str, Any] = {
                "task": p["task"],
                "size": p["size"],
                "split": p["split"],
                "question": p["question"],
                "truth": p["truth"],
                "source": f"import:{path.name}",
                "has_truth": p["task"] != USER or p["truth"] is not None,
            }
            if (p["task"], d) in keys:
                first_split = contexts[keys[(p["task"], d)]]["split"]
                if p["task"] != USER and first_split != p["split"]:
                    raise ImportFileError(
                        str(path),
                        p["line"],
                        "context",
                        "the same context is in both splits; eval and train never share contexts",
                    )
                q["context_key"] = keys[(p["task"], d)]
            elif known and known[1] == p["split"]:
                q["context_id"] = known[0]
            else:
                keys[(p["task"], d)] = len(contexts)
                contexts.append(
                    {
                        "key": len(contexts),
                        "task": p["task"],
                        "size": p["size"],
                        "split": p["split"],
                        "data": p["context"],
                        "digest": d,
                    }
                )
                q["context_key"] = keys[(p["task"], d)]
            questions.append(q)
        _, first = records.insert_questions(con, contexts, questions)
    counts: dict[str, int] = {}
    for p in parsed:
        counts[p["task"]] = counts.get(p["task"], 0) + 1
    return Imported(str(path), len(parsed), counts, first, first + len(parsed) - 1)


# -- export ---------------------------------------------------------------------------------------
def export(store: Store, path: Path, fmt: str, task: str | None = None, split: str | None = None) -> int:
    """One row a question: id, task, size, split, context, question, truth (SPEC 6)."""
    import polars as pl

    from ida_cli.outputs import FORMATS, atomic_path, write_frame

    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}': use --format jsonl, csv or parquet")
    if split is not None:
        check_split(split)
    sql = """SELECT q.id, q.task, q.size, q.split, c.data AS context, q.question, q.truth
             FROM questions q JOIN contexts c ON c.id = q.context_id WHERE 1=1"""
    params: list[Any] = []
    if task:
        sql, params = sql + " AND q.task = ?", [*params, task]
    if split:
        sql, params = sql + " AND q.split = ?", [*params, split]
    with store.read() as con:
        frame = con.execute(sql + " ORDER BY q.id", params).pl()
    if fmt == "jsonl":
        # nested JSON, as in SPEC 6.1, rather than JSON text inside JSON
        with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
            for row in frame.iter_rows(named=True):
                for key in ("context", "question", "truth"):
                    row[key] = None if row[key] is None else json.loads(row[key])
                f.write(json.dumps(row) + "\n")
    else:
        write_frame(frame.with_columns(pl.col("size").cast(pl.Int32)), path, fmt)
    return frame.height
