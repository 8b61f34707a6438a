"""The benchmark scripts stay runnable as modules (`python -m bench.perf.foundation`): each one with
a main guard imports cleanly from the repository root, and the shell grids parse."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    p for p in (ROOT / "bench").rglob("*.py") if p.name != "__init__.py" and "__main__" in p.read_text()
)


def test_every_script_is_in_a_folder_by_kind() -> None:
    loose = [p.name for p in (ROOT / "bench").glob("*.py") if p.name not in ("__init__.py", "common.py")]
    assert loose == []
    assert {p.parent.name for p in SCRIPTS} <= {"perf", "probes"}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_script_imports_as_a_module(path: Path) -> None:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    assert importlib.import_module(name).__name__ == name  # the import itself is the check


def test_grids_parse() -> None:
    for sh in sorted((ROOT / "bench" / "grids").glob("*.sh")):
        assert subprocess.run(["bash", "-n", str(sh)], capture_output=True).returncode == 0, sh.name
