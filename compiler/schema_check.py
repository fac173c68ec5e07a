"""Validate plan data against the Plan's JSON Schema without importing pydantic.

`ft check` must start in well under 0.25 s and pydantic's import and model building alone cost
~0.1 s, so the check walks `plan.schema.json` (generated from the pydantic models; a test keeps
the two equal) and reports errors in pydantic's own shape, which `validate.translate` renders.
`ft plan` and `ft run` still build the pydantic Plan from the same data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

Error = dict[str, Any]

_TYPES: dict[str, tuple[str, Any]] = {
    "integer": ("int_type", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("float_type", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "boolean": ("bool_type", lambda v: isinstance(v, bool)),
    "string": ("string_type", lambda v: isinstance(v, str)),
    "array": ("list_type", lambda v: isinstance(v, list)),
    "object": ("dict_type", lambda v: isinstance(v, dict)),
    "null": ("none_required", lambda v: v is None),
}
_BOUNDS: tuple[tuple[str, str, str, Callable[[Any, Any], bool]], ...] = (
    ("minimum", "greater_than_equal", "ge", lambda v, b: v >= b),
    ("exclusiveMinimum", "greater_than", "gt", lambda v, b: v > b),
    ("maximum", "less_than_equal", "le", lambda v, b: v <= b),
    ("exclusiveMaximum", "less_than", "lt", lambda v, b: v < b),
)


@lru_cache(maxsize=1)
def plan_schema() -> dict[str, Any]:
    text = resources.files("ftlang.plan").joinpath("plan.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate(data: Any, model: str | None = None, loc: tuple[Any, ...] = ()) -> list[Error]:
    """Errors of `data` against the whole Plan, or against one of its models (e.g. "TrainPlan")."""
    schema = plan_schema()
    target = schema if model is None else schema["$defs"][model]
    return _check(data, target, loc, schema["$defs"])


def _choices(values: list[Any]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _check(value: Any, schema: dict[str, Any], loc: tuple[Any, ...], defs: dict[str, Any]) -> list[Error]:
    if "$ref" in schema:
        return _check(value, defs[schema["$ref"].rsplit("/", 1)[-1]], loc, defs)
    if "discriminator" in schema:
        tag = value.get(schema["discriminator"]["propertyName"]) if isinstance(value, dict) else None
        target = schema["discriminator"]["mapping"].get(tag)
        if target is None:
            return [{"loc": loc, "type": "union_tag_invalid", "input": tag, "ctx": {}}]
        return _check(value, {"$ref": target}, loc, defs)
    if "anyOf" in schema:
        options = schema["anyOf"]
        if value is None and any(o.get("type") == "null" for o in options):
            return []
        real = [o for o in options if o.get("type") != "null"]
        results = [_check(value, o, loc, defs) for o in real]
        return [] if any(not r for r in results) else results[0]
    errors = _check_type(value, schema, loc)
    if errors:
        return errors
    if "enum" in schema and value not in schema["enum"]:
        return [{"loc": loc, "type": "literal_error", "input": value, "ctx": {"expected": _choices(schema["enum"])}}]
    if "const" in schema and value != schema["const"]:
        return [{"loc": loc, "type": "literal_error", "input": value, "ctx": {"expected": _choices([schema["const"]])}}]
    for key, kind, name, ok in _BOUNDS:
        if key in schema and isinstance(value, int | float) and not ok(value, schema[key]):
            return [{"loc": loc, "type": kind, "input": value, "ctx": {name: schema[key]}}]
    if isinstance(value, list | str) and len(value) < schema.get("minItems", schema.get("minLength", 0)):
        return [{"loc": loc, "type": "too_short", "input": value, "ctx": {}}]
    if isinstance(value, list) and "items" in schema:
        return [e for i, item in enumerate(value) for e in _check(item, schema["items"], (*loc, i), defs)]
    if isinstance(value, dict):
        return _check_object(value, schema, loc, defs)
    return []


def _check_type(value: Any, schema: dict[str, Any], loc: tuple[Any, ...]) -> list[Error]:
    if "type" not in schema:
        return []
    kind, ok = _TYPES[schema["type"]]
    return [] if ok(value) else [{"loc": loc, "type": kind, "input": value, "ctx": {}}]


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], loc: tuple[Any, ...], defs: dict[str, Any]
) -> list[Error]:
    errors: list[Error] = []
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name in schema.get("required", []):
        if name not in value:
            errors.append({"loc": (*loc, name), "type": "missing", "input": value, "ctx": {}})
    for name, item in value.items():
        if name in properties:
            errors.extend(_check(item, properties[name], (*loc, name), defs))
        elif extra is False:
            errors.append({"loc": (*loc, name), "type": "extra_forbidden", "input": item, "ctx": {}})
        elif isinstance(extra, dict):
            errors.extend(_check(item, extra, (*loc, name), defs))
    return errors


def fields_of(model: str) -> frozenset[str]:
    """The field names of one Plan model (e.g. "TrainPlan"), read from the schema."""
    return frozenset(plan_schema()["$defs"][model]["properties"])


def default_of(model: str, name: str) -> Any:
    """The default of one field of a Plan model (e.g. TrainPlan's `batch`), read from the schema."""
    return plan_schema()["$defs"][model]["properties"][name]["default"]
