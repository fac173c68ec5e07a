"""An edited plan.json, refused with what changed: its fields against the original, found where one is
recorded: the copy a run directory's lock.json keeps of the plan it ran, or the recipe the plan names,
compiled again. Either counts only when it hashes to the `plan_hash` the edited file claims."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftlang.plan.canonical import PlanHashMismatch

_MAX_LINES = 20


def report_edit(path: Path, exc: PlanHashMismatch) -> None:
    """Say that the plan at `path` was edited and, where the original can be found, which fields changed."""
    from ftlang.plan.edits import edited_fields, original
    from ftlang.plan.redact import redact

    print(redact(f"error: {path} is not a valid plan: {exc}"), file=sys.stderr)
    found = original(exc.claimed, _candidates(path, exc.data))
    if found is None:
        print(
            "  = note: what changed cannot be shown: no copy of the original plan is recorded beside it "
            "(a run directory's lock.json keeps one), and its recipe compiled again is not the original "
            "(the recipe or its parameters changed since, or the edit touched `sources`)",
            file=sys.stderr,
        )
    else:
        where, data = found
        lines = edited_fields(data, exc.data)
        shown = lines[:_MAX_LINES] + ([f"… and {len(lines) - _MAX_LINES} more"] if len(lines) > _MAX_LINES else [])
        print(f"  = note: changed since it was written (against {where}):", file=sys.stderr)
        for line in shown:
            print(redact(f"      {line}"), file=sys.stderr)
    in_run = (path.parent / "lock.json").is_file()
    fix = "put back the plan.json the run wrote, or start a new run from a changed recipe"
    if not in_run:
        fix = "change the recipe instead, and write the plan again with `ft plan RECIPE --format json`"
    print(f"  = help: a plan.json is pinned by its hash: {fix}", file=sys.stderr)


def _candidates(path: Path, edited: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Where the original may be, cheapest first: the run directory's record, then the recipe."""
    lock = path.parent / "lock.json"
    try:
        recorded = json.loads(lock.read_text(encoding="utf-8")).get("plan")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if isinstance(recorded, dict):
        yield f"the plan {lock} recorded when the run started", recorded
    recompiled = _recompiled(edited)
    if recompiled is not None:
        yield recompiled


def _recompiled(edited: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The plan the recipe named by the edited plan (its first source, with its `--set` values) compiles to."""
    from ftlang.compiler.api import check_path
    from ftlang.plan.canonical import plan_to_data

    sources, root = edited.get("sources"), edited.get("root")
    if not isinstance(sources, list) or not sources or not isinstance(root, str) or not isinstance(sources[0], dict):
        return None
    recipe = Path(root) / str(sources[0].get("path"))
    overrides = {str(o.get("name")): str(o.get("value")) for o in edited.get("overrides") or [] if isinstance(o, dict)}
    if recipe.suffix != ".ft" or not recipe.is_file():
        return None
    result = check_path(recipe, overrides)
    if not result.ok or result.plan is None:
        return None
    return f"{recipe} compiled again", plan_to_data(result.plan)
