"""The `ft` commands; each returns its exit code (0 ok, 1 recipe errors, 2 usage, 3 gates)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ftlang.compiler.api import CheckResult, check_path
from ftlang.compiler.render import render_text, summary_line, to_json


class UsageError(Exception):
    """A mistake in the command line itself (exit 2)."""


def overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got `{pair}`")
        out[name.strip()] = value
    return out


def _colour(stream: object) -> bool:
    import os

    return hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")  # type: ignore[union-attr]


def print_diagnostics(result: CheckResult, path: str) -> None:
    if result.diagnostics:
        sys.stderr.write(render_text(result.diagnostics, result.sources, colour=_colour(sys.stderr)) + "\n")
    if result.diagnostics:
        print(summary_line(result.diagnostics, path), file=sys.stderr)


def checked(path: str, sets: list[str]) -> CheckResult:
    if not Path(path).is_file():
        raise UsageError(f"no such recipe file: {path}")
    return check_path(path, overrides(sets))


def cmd_check(args: argparse.Namespace) -> int:
    status = 0
    documents = []
    for path in args.files:
        result = checked(path, args.set)
        if args.format == "json":
            documents.append({"file": path, **json.loads(to_json(result.diagnostics, result.sources))})
        else:
            print_diagnostics(result, path)
            if result.ok:
                print(f"{path}: ok", file=sys.stderr)
        status = max(status, 0 if result.ok else 1)
    if args.format == "json":
        print(json.dumps(documents[0] if len(documents) == 1 else {"format_version": 1, "files": documents}, indent=2))
    return status


def cmd_plan(args: argparse.Namespace) -> int:
    from ftlang.compiler.summary import summarize
    from ftlang.plan.canonical import plan_json

    result = checked(args.file, args.set)
    print_diagnostics(result, args.file)
    if result.is_library:
        print(f"{args.file} is a library of reusable pieces (no model or data): nothing to plan", file=sys.stderr)
        return 1
    if not result.ok or result.plan is None:
        return 1
    sys.stdout.write(plan_json(result.plan) if args.json else summarize(result.plan))
    if result.resolution and result.resolution.sweep and not args.json:
        return _print_sweep(args, result)
    return 0


def _print_sweep(args: argparse.Namespace, base: CheckResult) -> int:
    from ftlang.compiler.api import variants_of
    from ftlang.plan.canonical import plan_hash

    variants = variants_of(base, args.file, overrides(args.set))
    print(f"  sweep    {len(variants)} plans")
    status = 0
    for values, variant in variants:
        point = ", ".join(f"{k}={v}" for k, v in values.items())
        if variant.ok and variant.plan is not None:
            print(f"           {plan_hash(variant.plan)[:12]}…  {point}")
        else:
            print_diagnostics(variant, args.file)
            status = 1
    return status


def cmd_explain(args: argparse.Namespace) -> int:
    from ftlang.compiler.codes import CODES, explain

    text = explain(args.code)
    if text is None:
        raise UsageError(f"unknown code `{args.code}`; codes: {', '.join(CODES)}")
    sys.stdout.write(text)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from ftlang.plan.models import Plan

    print(json.dumps(Plan.model_json_schema(), indent=2, sort_keys=True))
    return 0


def dispatch(args: argparse.Namespace) -> int:
    from .eval_commands import cmd_compare, cmd_eval, cmd_report
    from .fmt_command import cmd_fmt
    from .run_command import cmd_run
    from .share_commands import cmd_diff, cmd_lock

    table = {
        "check": cmd_check,
        "plan": cmd_plan,
        "explain": cmd_explain,
        "schema": cmd_schema,
        "fmt": cmd_fmt,
        "run": cmd_run,
        "lock": cmd_lock,
        "diff": cmd_diff,
        "eval": cmd_eval,
        "compare": cmd_compare,
        "report": cmd_report,
    }
    return table[args.command](args)
