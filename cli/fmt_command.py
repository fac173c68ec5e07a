"""`ft fmt`: rewrite recipes in the canonical layout, or check/diff without writing."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ftlang.compiler.render import render_text
from ftlang.compiler.source import SourceFile

from .commands import UsageError


def recipe_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.rglob("*.ft")))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {name}")
    return files


def cmd_fmt(args: argparse.Namespace) -> int:
    from ftlang.compiler.format import format_source

    status = 0
    changed = 0
    for path in recipe_files(args.paths):
        text = path.read_text(encoding="utf-8")
        result = format_source(text, str(path))
        if result.text is None:
            sys.stderr.write(render_text(result.diagnostics, {str(path): SourceFile(str(path), text)}) + "\n")
            status = 1
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
            status = 1
        elif not args.diff:
            path.write_text(result.text, encoding="utf-8")
            print(f"reformatted {path}", file=sys.stderr)
    if args.check and changed == 0 and status == 0:
        print("all recipes are formatted", file=sys.stderr)
    return status
