"""What the server offers in each place: the checker's own block shapes and the catalogue.

Nothing here is a second list: declaration keywords come from plan/declarations.py (the
grammar's, tested), block fields and statements from the shapes the checker enforces, method
and metric names from the catalogue, and field types, ranges and defaults from the Plan's JSON
Schema.
"""

from __future__ import annotations

from typing import Any

from ftlang.compiler.check_eval import EVAL_SHAPE
from ftlang.compiler.check_prompt import PROMPT_SHAPE
from ftlang.compiler.check_sources import DATA_SHAPE, MODEL_SHAPE
from ftlang.compiler.check_training import COMPUTE_SHAPE, TRAIN_SHAPE
from ftlang.compiler.context import BlockShape
from ftlang.compiler.lexicon import KEYWORDS
from ftlang.compiler.schema_check import fields_of, plan_schema
from ftlang.plan import catalogue
from ftlang.plan.field_docs import FIELD_DOCS, STATEMENT_DOCS

DECLARATIONS = KEYWORDS

# The Plan model whose fields a block sets, for types, ranges and defaults.
_PLAN_MODEL = {"train": "TrainPlan", "compute": "ComputePlan", "model": "ModelPlan", "data": "DataPlan"}


def block_shape(declaration: str | None, name: str | None) -> BlockShape | None:
    """The fields and statements the checker accepts in a declaration's block."""
    shapes = {
        "train": TRAIN_SHAPE,
        "compute": COMPUTE_SHAPE,
        "model": MODEL_SHAPE,
        "data": DATA_SHAPE,
        "prompt": PROMPT_SHAPE,
        "eval": EVAL_SHAPE,
    }
    if declaration in shapes:
        return shapes[declaration]
    if declaration == "method" and name in catalogue.METHODS:
        spec = catalogue.METHODS[name]
        return BlockShape(f"`method {name}`", fields=fields_of(spec.plan_model) - {"kind"})
    return None


def plan_model_of(declaration: str | None, name: str | None) -> str | None:
    if declaration == "method" and name in catalogue.METHODS:
        return catalogue.METHODS[name].plan_model
    return _PLAN_MODEL.get(declaration or "")


def field_facts(model: str, field: str) -> dict[str, Any] | None:
    """The schema's view of one field: its type, range and default."""
    definition = plan_schema()["$defs"].get(model, {})
    prop = definition.get("properties", {}).get(field)
    return dict(prop) if isinstance(prop, dict) else None


def describe_type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(str(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(describe_type(p) for p in prop["anyOf"] if p.get("type") != "null") or "none"
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    kind = prop.get("type", "value")
    if kind == "array":
        return "list of " + describe_type(prop.get("items", {}))
    return {"integer": "whole number", "number": "number", "string": "text", "boolean": "true | false"}.get(
        str(kind), str(kind)
    )


def _bounds(prop: dict[str, Any]) -> list[str]:
    found = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in prop:
            found.append(f"{sign} {prop[key]}")
    for option in prop.get("anyOf", []):
        found.extend(_bounds(option))
    return found


def field_hover(declaration: str | None, name: str | None, field: str) -> str | None:
    """Markdown for a field: what it means, its type, range and default."""
    doc = FIELD_DOCS.get(declaration or "", {}).get(field) or FIELD_DOCS.get("*", {}).get(field)
    model = plan_model_of(declaration, name)
    prop = field_facts(model, field) if model else None
    if doc is None and prop is None:
        return None
    lines = [f"**`{field}`** in `{declaration}`"]
    if doc:
        lines.append(doc)
    if prop is not None:
        facts = [f"type: {describe_type(prop)}", *_bounds(prop)]
        if "default" in prop:
            facts.append(f"default: `{prop['default']}`")
        lines.append(" · ".join(facts))
    return "\n\n".join(lines)


def statement_hover(statement: str) -> str | None:
    doc = STATEMENT_DOCS.get(statement)
    return f"**`{statement}`**\n\n{doc}" if doc else None


def method_hover(name: str) -> str | None:
    spec = catalogue.METHODS.get(name)
    if spec is None:
        return None
    return f"**method `{name}`**: {spec.summary}\n\nprompt shapes: {', '.join(spec.shapes)}"


def metric_hover(name: str) -> str | None:
    spec = catalogue.METRICS.get(name)
    if spec is None:
        return None
    if spec.higher_is_better is None:
        direction = "reported, never ranked"
    else:
        direction = "higher is better" if spec.higher_is_better else "lower is better"
    return f"**metric `{name}`**: {spec.summary}\n\n{direction}; prompt shapes: {', '.join(spec.shapes)}"
