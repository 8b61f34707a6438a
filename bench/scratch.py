"""A scratch copy of an experiment database for the bench scripts that train on one: the original,
its curve and its checkpoints are never written."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb


def copy_db(src: Path, prefix: str, checkpoints: bool = False) -> tuple[Path, Path]:
    """Copy `src` into a new temporary folder: (the folder, the copy). With `checkpoints` its
    checkpoint folder comes too and the versions name the copies (they store checkpoints by path).
    The caller removes the folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    db = tmp / ("scratch.duckdb")
    shutil.copy(src, db)
    if checkpoints:
        old, new = src.with_name(src.name + ".checkpoints"), db.with_name(db.name + ".checkpoints")
        shutil.copytree(old, new)
        with duckdb.connect(str(db)) as con:
            con.execute("UPDATE versions SET checkpoint = replace(checkpoint, ?, ?)", [str(old), str(new)])
    return tmp, db
