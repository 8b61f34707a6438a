"""`ida prune`: delete the checkpoint files of old model and adversary versions.

An experiment writes a model and an adversary checkpoint every cycle (wildcard, 20 cycles: 265 MB),
and nothing else ever removed them. A pruned version keeps its row, metrics and curve points; only
its weights go, and its status becomes 'pruned' so that nothing tries to load it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ida_cli.errors import UsageError
from ida_cli.learn import checkpoints
from ida_cli.model.digest import sha256
from ida_cli.store import Store, versions


@dataclass
class Pruned:
    kind: str
    task: str
    version: int
    bytes: int


@dataclass
class PruneResult:
    keep: int
    dry_run: bool
    pruned: list[Pruned] = field(default_factory=list)
    kept: int = 0

    @property
    def freed_bytes(self) -> int:
        return sum(p.bytes for p in self.pruned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "keep": self.keep,
            "dry_run": self.dry_run,
            "kept": self.kept,
            "freed_bytes": self.freed_bytes,
            "pruned": [asdict(p) for p in self.pruned],
        }


def prune(store: Store, keep: int, dry_run: bool = False) -> PruneResult:
    """Keep the newest `keep` ready versions of each kind and task; delete the others' files."""
    if keep < 1:
        raise UsageError("--keep must be at least 1: the newest version of each kind is always kept")
    with store.read() as con:
        rows = versions.ready(con)
    result = PruneResult(keep, dry_run, kept=sum(r.rank <= keep for r in rows))
    doomed: list[tuple[int, Path | None, str | None, Pruned]] = []
    for r in rows:
        if r.rank > keep:
            path = _local_file(store, r.checkpoint, r.sha256)
            size = path.stat().st_size if path is not None else 0
            doomed.append((r.id, path, r.sha256, Pruned(r.kind, r.task, r.version, size)))
    if dry_run or not doomed:
        result.pruned = [d[3] for d in doomed]
        return result
    # the rows first: once a version is 'pruned' nothing loads it, so a kill between the two steps
    # leaves at worst a file no row points to, never a row whose file is gone
    with store.write() as con:
        for vid, _, _, _ in doomed:
            versions.set_status(con, vid, "pruned")
        if store.is_postgres:  # the shared copies too, where no kept version has the same bytes
            for _, _, sha, _ in doomed:
                if sha is not None:
                    versions.drop_unused_blob(con, sha)
    for _, path, _, _ in doomed:
        if path is not None:
            path.unlink(missing_ok=True)
    result.pruned = [d[3] for d in doomed]
    return result


def _local_file(store: Store, recorded: str | None, sha: str | None) -> Path | None:
    """The version's checkpoint file, if it is in this project's own checkpoint folder and holds the
    recorded bytes: a file anywhere else, or one whose SHA-256 differs (another project's, or one
    written since), is never deleted."""
    if not recorded:
        return None
    own = checkpoints.folder(store).resolve()
    path = checkpoints.resolve(store, recorded)
    if not path.is_file() or path.resolve().parent != own:
        return None
    if sha is not None and sha256(path) != sha:
        return None
    return path
