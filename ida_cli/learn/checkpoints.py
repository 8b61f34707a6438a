"""Checkpoints on a shared store. On a DuckDB file a version's checkpoint is a file beside the
database. On a PostgreSQL server the file is on the machine that trained it, so its bytes also go
into the `checkpoints` table (by SHA-256, migration 5), and a machine that lacks the file fetches
it into its own checkpoint folder before loading it: a team's annotators, rounds and evals all see
the model that one of them trained."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ida_cli.errors import IdaError
from ida_cli.store import Store, versions


class CheckpointMissing(IdaError):
    exit_code = 2


def folder(store: Store) -> Path:
    """Where a store's checkpoint files live: beside the database file (or, for a server, in the
    working folder, named after it)."""
    return store.path.with_name(store.path.name + ".checkpoints")


def record(store: Store, path: Path) -> str:
    """How a version records its checkpoint: the file's name in the project's checkpoint folder, so
    that the project keeps its models wherever it is moved or copied and whatever folder runs it."""
    if path.resolve().parent == folder(store).resolve():
        return path.name
    return str(path.resolve())


def resolve(store: Store, recorded: str) -> Path:
    """The file a recorded checkpoint names. A bare name is in this project's checkpoint folder.
    Older versions recorded a path as given (relative to the folder the command ran in): the file
    of that name in this project's folder comes first, so a copied project never reads, or prunes,
    the original's."""
    path = Path(recorded)
    own = folder(store) / path.name
    if len(path.parts) == 1 or own.is_file():
        return own
    return path


def publish(store: Store, path: Path, sha: str, con: Any = None) -> None:
    """On a server store, keep the checkpoint's bytes in the database (once per SHA-256), in the
    caller's write transaction `con` or a new one."""
    if not store.is_postgres:
        return
    if con is None:
        with store.write() as con:
            publish(store, path, sha, con)
        return
    data = path.read_bytes()
    if not versions.has_blob(con, sha):
        versions.put_blob(con, sha, data)


def local(store: Store, recorded: str, sha: str | None) -> Path:
    """A local file holding the checkpoint recorded as `recorded`: that file if it is here, else
    (server stores) a copy fetched from the database into this machine's checkpoint folder. The
    SHA-256 check stays with the loader (model.train.load_checkpoint)."""
    path = resolve(store, recorded)
    if path.is_file() or not store.is_postgres or sha is None:
        return path
    copy = folder(store) / path.name
    if copy.is_file():
        return copy
    with store.read() as con:
        data = versions.get_blob(con, sha)
    if data is None:
        raise CheckpointMissing(
            f"checkpoint {path.name} is neither here nor in {store.display}: it was trained before "
            "checkpoints were shared; retrain with `ida train model` (or `ida train adversary`)"
        )
    copy.parent.mkdir(parents=True, exist_ok=True)
    tmp = copy.with_name(f".{copy.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, copy)
    return copy


def load(store: Store, info: versions.Version) -> dict[str, Any]:
    """The checkpoint dict of a stored version (`info` has its `checkpoint` path and `sha256`),
    fetched if this machine lacks the file and refused if the hash does not match."""
    from ida_cli.model.train import load_checkpoint

    return load_checkpoint(local(store, info.checkpoint, info.sha256), info.sha256, info.kind)
