"""Canonical JSON of a Plan and its hash: sorted keys, stable floats, no whitespace drift."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .models import Plan

# `root` says where the checkout lies, not what runs: it stays out of the hash so that
# the same recipe in two clones has one plan hash.
_UNHASHED = ("root",)


def plan_to_data(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(mode="json")


def canonical_json(data: Any, indent: int | None = None) -> str:
    """JSON with sorted keys; floats use Python's shortest round-trip repr."""
    return json.dumps(
        data,
        sort_keys=True,
        indent=indent,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":") if indent is None else (",", ": "),
    )


def plan_hash(plan: Plan) -> str:
    data = {k: v for k, v in plan_to_data(plan).items() if k not in _UNHASHED}
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def plan_json(plan: Plan) -> str:
    """The document `ft plan --json` writes and `ft run plan.json` reads."""
    data = plan_to_data(plan)
    data["plan_hash"] = plan_hash(plan)
    return canonical_json(data, indent=2) + "\n"


def load_plan(text: str) -> Plan:
    data = json.loads(text)
    data.pop("plan_hash", None)
    return Plan.model_validate(data)
