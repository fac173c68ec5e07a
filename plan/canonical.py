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


class PlanHashMismatch(ValueError):
    """A plan whose content no longer hashes to the `plan_hash` written into it: it was edited.
    `data` is its content as read, for saying what changed (plan/edits.py)."""

    def __init__(self, claimed: str, actual: str, data: dict[str, Any]) -> None:
        super().__init__(
            f"the plan was edited: it claims plan_hash {claimed[:12]}… but its content hashes to {actual[:12]}…"
        )
        self.claimed, self.actual, self.data = claimed, actual, data


def load_plan(text: str) -> Plan:
    """The Plan of a plan.json, refused when it was edited after `ft plan` wrote it (its content no
    longer hashes to its `plan_hash`). A plan without a `plan_hash` claims no pin and is taken as is."""
    data = json.loads(text)
    claimed = data.pop("plan_hash", None) if isinstance(data, dict) else None
    plan = Plan.model_validate(data)
    if claimed is not None and claimed != (actual := plan_hash(plan)) and claimed != written_hash(data):
        raise PlanHashMismatch(str(claimed), actual, data)
    return plan


def written_hash(data: dict[str, Any]) -> str:
    """The hash of a plan's content as written: a plan.json from an earlier ftlang, which lacks a field
    added since (its default fills it in), still matches its own hash unless its content changed."""
    written = {k: v for k, v in data.items() if k not in (*_UNHASHED, "plan_hash")}
    return hashlib.sha256(canonical_json(written).encode()).hexdigest()
