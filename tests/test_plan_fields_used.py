"""Every field of the Plan changes what runs: each is read somewhere in runtime/.

A field the language accepts and the runtime never reads is a stub. The scan is by name (an
attribute `x.field`, or the field's name as a string for getattr/model_dump keys), so it catches
a field nobody reads at all; the tests of each lever check that reading it does the right thing.
"""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest
from pydantic import BaseModel

from ftlang.plan import models

ROOT = Path(__file__).resolve().parents[1]

# Fields only the compiler and the CLI use, each with the reason the runtime has no need of it.
COMPILER_ONLY = {
    ("ScratchModel", "arch"): "one architecture so far (llama), which the runtime builds; the checker reads it",
    ("Plan", "format_version"): "checked when a plan.json is read (plan/canonical.py), before the runtime",
}


def plan_models() -> list[type[BaseModel]]:
    return [
        cls
        for _, cls in inspect.getmembers(models, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == models.__name__ and cls.model_fields
    ]


@functools.cache
def names_read_by_the_runtime() -> frozenset[str]:
    found: set[str] = set()
    for path in (ROOT / "runtime").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                found.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return frozenset(found)


FIELDS = [(cls.__name__, name) for cls in plan_models() for name in cls.model_fields]


@pytest.mark.parametrize(("model", "field"), FIELDS, ids=[f"{m}.{f}" for m, f in FIELDS])
def test_every_plan_field_is_read_by_the_runtime(model: str, field: str) -> None:
    if (model, field) in COMPILER_ONLY:
        return
    if field not in names_read_by_the_runtime():
        pytest.fail(
            f"{model}.{field} is accepted by the language and read by no runtime code: a stub "
            "(or add it to COMPILER_ONLY with the reason)"
        )


def test_the_allow_list_holds_only_fields_the_runtime_does_not_read() -> None:
    assert set(COMPILER_ONLY) <= set(FIELDS)
    assert not {field for _, field in COMPILER_ONLY} & names_read_by_the_runtime()
