"""Questions in and out of files (docs/spec.md §6): `ida questions import` checks every row before it writes
any (an error names the file, line and field), and `ida export --table questions` writes one row a
question as JSONL, CSV or Parquet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ida_cli.errors import ImportFileError, ParseError, UsageError
from ida_cli.project.questions import SPLITS, check_split, digest
from ida_cli.store import Store, records
from ida_cli.store import questions as stored_questions
from ida_cli.tasks import BUILTIN, USER, get_task
from ida_cli.vocabulary import JSON, canonical


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
            raise fail("context", f"not a {task_name} context (see docs/spec.md §6.1)") from None
        try:
            task.check_question(values["question"], context)
        except ParseError as e:
            raise fail("question", str(e)) from None
        except (KeyError, TypeError, ValueError, AttributeError):
            raise fail("question", f"not a {task_name} question (see docs/spec.md §6.1)") from None
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
def export(
    store: Store,
    path: Path,
    fmt: str,
    task: str | None = None,
    split: str | None = None,
    force: bool = False,
) -> int:
    """One row a question: id, task, size, split, context, question, truth (docs/spec.md §6)."""
    import polars as pl

    from ida_cli.project.outputs import FORMATS, Protected, atomic_path, check_output, write_frame

    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}': use --format jsonl, csv or parquet")
    if split is not None:
        check_split(split)
    protected = Protected.of(store)
    check_output(path, protected, force)
    with store.read() as con:
        frame = stored_questions.frame(con, task, split)
    if fmt == "jsonl":
        # nested JSON, as in docs/spec.md §6.1, rather than JSON text inside JSON
        with atomic_path(path, protected, force) as tmp, tmp.open("w", encoding="utf-8") as f:
            for row in frame.iter_rows(named=True):
                for key in ("context", "question", "truth"):
                    row[key] = None if row[key] is None else json.loads(row[key])
                f.write(json.dumps(row) + "\n")
    else:
        write_frame(frame.with_columns(pl.col("size").cast(pl.Int32)), path, fmt, protected, force)
    return frame.height
