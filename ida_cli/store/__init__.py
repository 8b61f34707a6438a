"""Storage: the only package that imports duckdb."""

from ida_cli.store.db import Store

__all__ = ["Store"]
