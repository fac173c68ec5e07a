"""`ft check`, `ft plan`, `ft explain`, `ft schema`: the compiler's commands, which never load a model."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from .common import (
    EXIT_OK,
    EXIT_RECIPE,
    UsageError,
    add_format_option,
    add_set_option,
    checked,
    command,
    parse_set_pairs,
    print_diagnostics,
    recipe_files,
)

if TYPE_CHECKING:
    from ftlang.compiler.api import CheckResult
    from ftlang.compiler.diagnostics import Diagnostic


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "check",
        cmd_check,
        "check recipes and report every problem",
        [
            "ft check recipes/support.ft",
            "ft check recipes/                   # every .ft below the folder",
            "ft check --format json recipes/*.ft  # one JSON document on stdout",
            "ft check --format github recipes/   # annotations in a GitHub Actions log",
        ],
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a recipe file, or a folder searched for *.ft")
    add_format_option(p, ["text", "json", "github"], "the diagnostics")
    add_set_option(p)

    p = command(
        sub,
        "plan",
        cmd_plan,
        "show what a recipe will run",
        ["ft plan recipes/support.ft", "ft plan recipes/support.ft --format json > plan.json && ft run plan.json"],
    )
    p.add_argument("file", metavar="FILE", help="the recipe to plan")
    add_format_option(p, ["text", "json"], "the plan: a readable summary, or the canonical plan JSON")
    add_set_option(p)

    p = command(
        sub,
        "explain",
        cmd_explain,
        "explain a diagnostic code, or a name of the language (metric, method, source…)",
        ["ft explain E0102", "ft explain rouge_l"],
    )
    p.add_argument(
        "code", metavar="CODE", help="a diagnostic code as printed in `error[E0102]`, or a metric, method or source"
    )

    command(sub, "schema", cmd_schema, "print the JSON Schema of the Plan", ["ft schema > plan.schema.json"])


def cmd_check(args: argparse.Namespace) -> int:
    from ftlang.compiler.render import to_json

    status = EXIT_OK
    documents = []
    for path in recipe_files(args.paths):
        result = checked(str(path), args.set)
        if args.format == "json":
            documents.append({"file": str(path), **json.loads(to_json(result.diagnostics, result.sources))})
        elif args.format == "github":
            sys.stdout.writelines(github_annotation(d) + "\n" for d in result.diagnostics)
        else:
            print_diagnostics(result, str(path))
            if result.ok:
                print(f"{path}: ok", file=sys.stderr)
        status = max(status, EXIT_OK if result.ok else EXIT_RECIPE)
    if args.format == "json":
        print(json.dumps(documents[0] if len(documents) == 1 else {"format_version": 1, "files": documents}, indent=2))
    return status


def github_annotation(diagnostic: Diagnostic) -> str:
    """A GitHub Actions workflow command: the diagnostic shown on its line of the pull request's diff."""

    def escape(text: str, property_value: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if property_value else text

    span = diagnostic.span
    where = {
        "file": span.file,
        "line": span.line,
        "col": span.col,
        "endLine": span.end_line,
        "endColumn": span.end_col,
        "title": f"{diagnostic.code} {diagnostic.severity}",
    }
    properties = ",".join(f"{key}={escape(str(value), True)}" for key, value in where.items())
    message = diagnostic.message + "".join(f"\n{line}" for line in [*diagnostic.notes, diagnostic.help or ""] if line)
    return f"::{diagnostic.severity} {properties}::{escape(message)}"


def cmd_plan(args: argparse.Namespace) -> int:
    from ftlang.compiler.summary import summarize
    from ftlang.plan.canonical import plan_json

    result = checked(args.file, args.set)
    print_diagnostics(result, args.file)
    if result.is_library:
        print(f"{args.file} is a library of reusable pieces (no model or data): nothing to plan", file=sys.stderr)
        return EXIT_RECIPE
    if not result.ok or result.plan is None:
        return EXIT_RECIPE
    sys.stdout.write(plan_json(result.plan) if args.format == "json" else summarize(result.plan))
    if result.resolution and result.resolution.sweep and args.format != "json":
        return _print_sweep(args, result)
    return EXIT_OK


def _print_sweep(args: argparse.Namespace, base: CheckResult) -> int:
    from ftlang.compiler.api import variants_of
    from ftlang.plan.canonical import plan_hash

    variants = variants_of(base, args.file, parse_set_pairs(args.set))
    print(f"  sweep    {len(variants)} plans")
    status = EXIT_OK
    for values, variant in variants:
        point = ", ".join(f"{k}={v}" for k, v in values.items())
        if variant.ok and variant.plan is not None:
            print(f"           {plan_hash(variant.plan)[:12]}…  {point}")
        else:
            print_diagnostics(variant, args.file)
            status = EXIT_RECIPE
    return status


def cmd_explain(args: argparse.Namespace) -> int:
    from ftlang.compiler.codes import CODES, explain
    from ftlang.plan.catalogue_docs import describe

    text = explain(args.code) or describe(args.code)
    if text is None:
        raise UsageError(
            f"unknown code `{args.code}`; codes: {', '.join(CODES)}; "
            "or name a metric, method, source, filter function, schedule or tracker"
        )
    sys.stdout.write(text)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from ftlang.plan.models import Plan

    print(json.dumps(Plan.model_json_schema(), indent=2, sort_keys=True))
    return EXIT_OK
