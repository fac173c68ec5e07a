"""`ft lock` (pin every imported file) and `ft diff` (what a change does to the resolved plan)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    EXIT_OK,
    EXIT_RECIPE,
    UsageError,
    add_format_option,
    add_set_option,
    command,
    parse_set_pairs,
    print_diagnostics,
)

if TYPE_CHECKING:
    from ftlang.compiler.api import CheckResult


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub, "lock", cmd_lock, "write RECIPE.lock with the hash of every imported file", ["ft lock recipes/support.ft"]
    )
    p.add_argument("file", metavar="RECIPE", help="the recipe whose imports to pin")
    add_set_option(p)

    p = command(
        sub,
        "diff",
        cmd_diff,
        "the semantic difference of two recipes' resolved plans",
        ["ft diff old.ft new.ft", "ft diff main:recipes/support.ft recipes/support.ft --format md"],
    )
    p.add_argument("old", metavar="A", help="a recipe file, or REV:path in git")
    p.add_argument("new", metavar="B", help="a recipe file, or REV:path in git")
    add_format_option(p, ["text", "md", "json"], "the changes")
    add_set_option(p)


def cmd_lock(args: argparse.Namespace) -> int:
    from ftlang.compiler.api import check_path
    from ftlang.compiler.imports import lock_path, lock_text

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such recipe file: {path}")
    result = check_path(path, parse_set_pairs(args.set))
    # A stale lock is what `ft lock` is for; every other error still stops it.
    others = [d for d in result.diagnostics if d.severity == "error" and d.code != "E0404"]
    if others or result.resolution is None:
        result.diagnostics[:] = others
        print_diagnostics(result, str(path))
        return EXIT_RECIPE
    target = lock_path(path)
    target.write_text(lock_text(result.resolution.graph), encoding="utf-8")
    count = len(result.resolution.graph.digests)
    print(f"wrote {target} ({count} imported file{'s' * (count != 1)})", file=sys.stderr)
    return EXIT_OK


def _resolve(spec: str, sets: list[str], scratch: Path) -> tuple[str, CheckResult]:
    """A recipe from a file, or from `REV:path` in git (its folder exported at that revision)."""
    from ftlang.compiler.api import check_path

    path = Path(spec)
    if not path.is_file() and ":" in spec:
        rev, _, name = spec.partition(":")
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
        if top.returncode != 0:
            raise UsageError(f"`{spec}` needs a git repository")
        root = Path(top.stdout.strip())
        try:
            inside = (Path.cwd() / name).resolve().relative_to(root)
        except ValueError:
            raise UsageError(f"`{name}` is outside the git repository {root}") from None
        commit = _commit(root, rev, spec)
        folder = scratch / commit
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", "--end-of-options", commit, "--", str(inside.parent)],
            capture_output=True,
        )
        if archive.returncode != 0:
            raise UsageError(f"git cannot read `{spec}`: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        path = folder / inside
        if not path.is_file():
            raise UsageError(f"`{name}` does not exist at {rev}")
    elif not path.is_file():
        raise UsageError(f"no such recipe file: {spec}")
    return spec, check_path(path, parse_set_pairs(sets))


def _commit(root: Path, rev: str, spec: str) -> str:
    """The commit `rev` names, resolved with options ended first: a revision is never read as an
    option of git (`--output=X.tar` would make `git archive` write a file)."""
    if not rev or rev.startswith("-"):
        raise UsageError(f"`{spec}`: `{rev}` is not a git revision")
    found = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise UsageError(f"`{spec}`: git knows no commit `{rev}`")
    return found.stdout.strip()


def cmd_diff(args: argparse.Namespace) -> int:
    from ftlang.compiler.diff import plan_diff, render_diff

    with tempfile.TemporaryDirectory() as scratch:
        results = [_resolve(spec, args.set, Path(scratch)) for spec in (args.old, args.new)]
        for spec, result in results:
            if not result.ok or result.plan_data is None:
                print_diagnostics(result, spec)
                return EXIT_RECIPE
        (_, a), (_, b) = results
        fields, files = plan_diff(a.plan_data, b.plan_data, a.resolution.origins, b.resolution.origins)
    if args.format == "json":
        changes = {"fields": [asdict(c) for c in fields], "files": [asdict(c) for c in files]}
        print(json.dumps({"format_version": 1, **changes}, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(render_diff(fields, files, markdown=args.format == "md"))
    return EXIT_OK
