"""Modules stay under 400 lines and functions under 60, so each reads in one sitting.

Declarative tables (every diagnostic code with its explanation, the catalogue, the Plan's
models) are long lists of short entries, not long logic: they alone may pass the limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("compiler", "plan", "runtime", "cli", "lsp")
MODULE_LINES, FUNCTION_LINES = 400, 60
TABLES = {"compiler/codes.py", "plan/catalogue.py", "plan/models.py"}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_module_is_over_400_lines() -> None:
    long = {_name(p): n for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MODULE_LINES}
    assert {name: n for name, n in long.items() if name not in TABLES} == {}


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for path in _modules():
        if _name(path) in TABLES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1 if node.end_lineno else 0
                if lines > FUNCTION_LINES:
                    long[f"{_name(path)}:{node.lineno} {node.name}"] = lines
    assert long == {}


def test_the_allowed_tables_exist() -> None:
    assert all((ROOT / name).is_file() for name in TABLES)
