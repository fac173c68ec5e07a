"""`ft fmt`: rewrite recipes in the canonical layout, or check/diff without writing."""

from __future__ import annotations

import argparse
import difflib
import sys

from .common import EXIT_OK, EXIT_RECIPE, command, recipe_files


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "fmt",
        cmd_fmt,
        "format recipes in the one canonical layout",
        ["ft fmt recipes/", "ft fmt --check recipes/   # in CI: exit 1 if a file would change", "ft fmt --diff r.ft"],
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="a recipe file, or a folder searched for *.ft")
    p.add_argument("--check", action="store_true", help="exit 1 if a file would change; write nothing")
    p.add_argument("--diff", action="store_true", help="print the changes as a unified diff; write nothing")


def cmd_fmt(args: argparse.Namespace) -> int:
    from ftlang.compiler.format import format_source
    from ftlang.compiler.render import render_text
    from ftlang.compiler.source import SourceFile

    status = EXIT_OK
    changed = 0
    for path in recipe_files(args.paths):
        text = path.read_text(encoding="utf-8")
        result = format_source(text, str(path))
        if result.text is None:
            sys.stderr.write(render_text(result.diagnostics, {str(path): SourceFile(str(path), text)}) + "\n")
            status = EXIT_RECIPE
            continue
        if result.text == text:
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(True), result.text.splitlines(True), f"{path} (before)", f"{path} (formatted)"
                )
            )
        if args.check:
            print(f"would reformat {path}", file=sys.stderr)
            status = EXIT_RECIPE
        elif not args.diff:
            path.write_text(result.text, encoding="utf-8")
            print(f"reformatted {path}", file=sys.stderr)
    if args.check and changed == 0 and status == EXIT_OK:
        print("all recipes are formatted", file=sys.stderr)
    return status
