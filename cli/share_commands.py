"""`ft lock` (pin every imported file) and `ft diff` (what a change does to the resolved plan)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from ftlang.compiler.api import CheckResult, check_path

from .commands import UsageError, overrides, print_diagnostics


def cmd_lock(args: argparse.Namespace) -> int:
    from ftlang.compiler.imports import lock_path, lock_text

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such recipe file: {path}")
    result = check_path(path, overrides(args.set))
    # A stale lock is what `ft lock` is for; every other error still stops it.
    others = [d for d in result.diagnostics if d.severity == "error" and d.code != "E0404"]
    if others or result.resolution is None:
        result.diagnostics[:] = others
        print_diagnostics(result, str(path))
        return 1
    target = lock_path(path)
    target.write_text(lock_text(result.resolution.graph), encoding="utf-8")
    count = len(result.resolution.graph.digests)
    print(f"wrote {target} ({count} imported file{'s' * (count != 1)})", file=sys.stderr)
    return 0


def _resolve(spec: str, sets: list[str], scratch: Path) -> tuple[str, CheckResult]:
    """A recipe from a file, or from `REV:path` in git (its folder exported at that revision)."""
    path = Path(spec)
    if not path.is_file() and ":" in spec:
        rev, _, name = spec.partition(":")
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
        if top.returncode != 0:
            raise UsageError(f"`{spec}` needs a git repository")
        root = Path(top.stdout.strip())
        inside = (Path.cwd() / name).resolve().relative_to(root)
        folder = scratch / rev.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", rev, "--", str(inside.parent)], capture_output=True
        )
        if archive.returncode != 0:
            raise UsageError(f"git cannot read `{spec}`: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        path = folder / inside
        if not path.is_file():
            raise UsageError(f"`{name}` does not exist at {rev}")
    elif not path.is_file():
        raise UsageError(f"no such recipe file: {spec}")
    return spec, check_path(path, overrides(sets))


def cmd_diff(args: argparse.Namespace) -> int:
    from ftlang.compiler.diff import plan_diff, render_diff

    with tempfile.TemporaryDirectory() as scratch:
        results = [_resolve(spec, args.set, Path(scratch)) for spec in (args.old, args.new)]
        for spec, result in results:
            if not result.ok or result.plan_data is None:
                print_diagnostics(result, spec)
                return 1
        (_, a), (_, b) = results
        fields, files = plan_diff(a.plan_data, b.plan_data, a.resolution.origins, b.resolution.origins)
    sys.stdout.write(render_diff(fields, files, markdown=args.format == "md"))
    return 0
