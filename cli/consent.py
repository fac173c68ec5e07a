"""Consent to foreign code: a plan read from a file or a run directory is pinned by its hash, and the
model code it allows (`trust_remote_code`) runs only when this invocation says so."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ftlang.plan.models import Plan

_SHOWN_FIELDS = 3  # refused fields named in the error, of a plan edited past recognition
FLAG_HELP = "let the model run Python code from its repository when the plan allows it (never implied by a plan.json)"


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-remote-code", action="store_true", help=FLAG_HELP)


def read_plan(path: Path, trust_remote_code: bool) -> Plan | None:
    """The Plan of a plan.json, or None after saying why it cannot run: its content no longer matches
    its `plan_hash`, or it allows remote code without `--trust-remote-code`. A plan.json is a file
    anyone can write, so it never carries consent on its own; a recipe checked in this invocation
    does (its W0001 was shown by the check)."""
    plan = pinned_plan(path)
    return plan if plan is not None and consented(plan, trust_remote_code, str(path)) else None


def pinned_plan(path: Path) -> Plan | None:
    """The Plan of a plan.json, or None after saying why not (not a plan, or edited since written)."""
    from pydantic import ValidationError

    from ftlang.plan.canonical import PlanHashMismatch, load_plan

    from .edited_plan import report_edit

    try:
        return load_plan(path.read_text(encoding="utf-8"))
    except PlanHashMismatch as exc:
        report_edit(path, exc)
        return None
    except ValidationError as exc:
        print(f"error: {path} is not a valid plan: {refused_fields(exc)}", file=sys.stderr)
        return None
    except (OSError, ValueError) as exc:
        print(f"error: {path} is not a valid plan: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None


def refused_fields(exc: ValidationError) -> str:
    """The fields the Plan refused, each with why (`train.lr: Input should be a valid number`), the
    first few: pydantic's own first line says only how many there are."""
    problems = [f"{'.'.join(map(str, e['loc'])) or 'the plan'}: {e['msg']}" for e in exc.errors(include_url=False)]
    shown = "; ".join(problems[:_SHOWN_FIELDS])
    return shown + (f"; and {len(problems) - _SHOWN_FIELDS} more" if len(problems) > _SHOWN_FIELDS else "")


def consented(plan: Plan, trust_remote_code: bool, where: str) -> bool:
    """Whether the plan may run: a plan that allows remote code needs the flag, and shows W0001 with it."""
    if not plan.model.trust_remote_code:
        return True
    if not trust_remote_code:
        print(
            f"error: {where} lets the model `{plan.model.name}` run code from its repository "
            "(trust_remote_code), and a plan alone is no consent to that\n"
            "  = help: read the model's code, then pass --trust-remote-code",
            file=sys.stderr,
        )
        return False
    print(
        f"warning[W0001]: {where}: the model `{plan.model.name}` runs code from its repository "
        "(trust_remote_code, allowed by --trust-remote-code)",
        file=sys.stderr,
    )
    return True
