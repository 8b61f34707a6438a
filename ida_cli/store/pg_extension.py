"""The postgres extension of DuckDB, from the installed `duckdb-extension-postgres` wheel, under the
file name its entry point needs (see store/postgres.py): never downloaded."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from ida_cli.errors import StoreError

_EXT_NAME = "postgres_scanner.duckdb_extension"


def extension_file() -> Path:
    """The postgres extension of the installed wheel, under the file name its entry point needs."""
    import duckdb

    try:
        import duckdb_extension_postgres
    except ImportError:
        raise StoreError(
            "the PostgreSQL backend needs the duckdb-extension-postgres package: reinstall ida "
            "(`make install`)"
        ) from None
    version = f"v{duckdb.__version__}"
    roots = [Path(p) / "extensions" for p in duckdb_extension_postgres.__path__]
    found = [p for root in roots for p in sorted(root.glob(f"{version}/*.duckdb_extension"))]
    if not found:
        have = sorted({p.parent.name for root in roots for p in root.glob("*/*.duckdb_extension")})
        raise StoreError(
            f"duckdb-extension-postgres has no extension for duckdb {duckdb.__version__} "
            f"(it has {', '.join(have) or 'none'}): install the matching version"
        )
    source = found[0]
    if source.name == _EXT_NAME:
        return source
    for folder in _cache_folders(version):
        target = folder / _EXT_NAME
        try:
            if target.exists() and target.resolve() == source.resolve():
                return target
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{_EXT_NAME}.{os.getpid()}.{threading.get_ident()}"
            try:
                tmp.unlink(missing_ok=True)
                try:
                    tmp.symlink_to(source)
                except OSError:
                    shutil.copyfile(source, tmp)
                os.replace(tmp, target)  # atomic: concurrent processes agree on one file
            finally:
                tmp.unlink(missing_ok=True)
            return target
        except OSError:
            continue
    raise StoreError(
        "cannot prepare the postgres extension (no writable cache folder): set XDG_CACHE_HOME to a "
        "writable folder"
    )


def _cache_folders(version: str) -> list[Path]:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [
        Path(base) / "ida" / "duckdb-extensions" / version,
        Path(tempfile.gettempdir()) / f"ida-duckdb-extensions-{os.getuid()}" / version,
    ]
