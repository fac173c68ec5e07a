"""The layers of the pipeline import only downwards: runtime reads the Plan, never the compiler."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.append((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found.extend((str(path.relative_to(ROOT)), alias.name) for alias in node.names)
    return found


def test_the_runtime_never_imports_the_compiler() -> None:
    offenders = [(path, module) for path, module in _imports("runtime") if module.startswith("ftlang.compiler")]
    assert offenders == []


def test_the_plan_imports_neither_compiler_nor_runtime() -> None:
    offenders = [
        (path, module)
        for path, module in _imports("plan")
        if module.startswith(("ftlang.compiler", "ftlang.runtime", "torch", "transformers"))
    ]
    assert offenders == []


def test_the_compiler_never_imports_the_runtime_or_torch() -> None:
    offenders = [
        (path, module)
        for path, module in _imports("compiler")
        if module.startswith(("ftlang.runtime", "torch", "transformers", "peft"))
    ]
    assert offenders == []
