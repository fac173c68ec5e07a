"""What an edited plan changed: the fields of a plan.json that no longer hashes to its `plan_hash`,
against an original that does (a copy a run directory recorded, or the recipe compiled again)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .canonical import plan_hash, written_hash
from .models import Plan

_IGNORED = ("root", "plan_hash")  # where the checkout lies, and the claim itself
_SHOWN = 60  # characters of a value shown


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; lists of named records are keyed by name (`data.tickets.split`)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        out = {}
        for item in value:
            out.update(flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}.{item['name']}"))
        return out
    return {prefix: value}


def hashes_to(data: dict[str, Any], claimed: str) -> bool:
    """Whether a plan's content (as written, or as the Plan reads it) hashes to `claimed`."""
    if written_hash(data) == claimed:
        return True
    try:
        return plan_hash(Plan.model_validate({k: v for k, v in data.items() if k != "plan_hash"})) == claimed
    except ValueError:  # not a plan of this ftlang
        return False


def original(claimed: str, candidates: Iterable[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]] | None:
    """The first candidate (where it came from, its content) whose content hashes to `claimed`."""
    return next(((where, data) for where, data in candidates if hashes_to(data, claimed)), None)


def edited_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`compute.precision: bf16 → fp16`, one line per field the edit changed, added or removed."""
    a = flatten({k: v for k, v in before.items() if k not in _IGNORED})
    b = flatten({k: v for k, v in after.items() if k not in _IGNORED})
    lines = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            lines.append(f"{path}: {_shown(a[path])} → removed")
        elif path not in a:
            lines.append(f"{path}: added, {_shown(b[path])}")
        elif a[path] != b[path]:
            lines.append(f"{path}: {_shown(a[path])} → {_shown(b[path])}")
    return lines


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
