"""Every SQL statement lives behind `ida_cli/store/`: the rest of the code calls store functions
that return dataclasses or plain values, so a schema change is made in one package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "ida_cli" / "store"
# A statement: a keyword that starts one, followed by what that statement must contain.
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+(OR\s+REPLACE\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|VIEW)|DROP\s+TABLE|ALTER\s+TABLE)\b"
)
ALLOWED: set[str] = set()  # no declared exception


def sql_outside_store() -> list[str]:
    found = []
    for top in ("ida_cli", "adversary"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if STORE in path.parents or str(path.relative_to(ROOT)) in ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                    "execute",
                    "executemany",
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} (.execute)")
    return found


def test_no_sql_outside_the_store() -> None:
    assert sql_outside_store() == []


def test_the_check_finds_sql(tmp_path: Path) -> None:
    assert SQL.search("SELECT id FROM trees WHERE round_id = ?")
    assert SQL.search("INSERT OR REPLACE INTO curve VALUES (?)")
    assert SQL.search("UPDATE versions SET status = 'pruned' WHERE id = ?")
    assert not SQL.search("select the question to recurse on from the two")
    assert not SQL.search("Update the model: run `ida train model`")
