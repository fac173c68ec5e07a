"""`ft run`: compile a recipe (or read a plan.json) and hand the Plan to the runtime."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .commands import UsageError, checked, print_diagnostics


def _load_plan(args: argparse.Namespace):  # noqa: ANN202 - returns ftlang.compiler.plan.Plan | None
    from pydantic import ValidationError

    from ftlang.compiler.canonical import load_plan

    path = Path(args.file)
    if path.suffix == ".json":
        if not path.is_file():
            raise UsageError(f"no such plan file: {path}")
        try:
            return load_plan(path.read_text(encoding="utf-8"))
        except (ValueError, ValidationError) as exc:
            print(f"error: {path} is not a valid plan: {str(exc).splitlines()[0]}", file=sys.stderr)
            return None
    result = checked(args.file, args.set)
    print_diagnostics(result, args.file)
    return result.plan if result.ok else None


def cmd_run(args: argparse.Namespace) -> int:
    if args.resume is None and args.file is None:
        raise UsageError("give a recipe or plan to run, or --resume RUNDIR")
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.run import run_plan

    if args.resume is None and args.file and args.file.endswith(".ft"):
        from .sweep_command import run_sweep, sweep_requested

        if sweep_requested(args):
            return run_sweep(args)
    plan = None
    if args.resume is not None:
        resume = Path(args.resume)
        plan_path = resume / "plan.json"
        if not plan_path.is_file():
            raise UsageError(f"{resume} is not a run directory (no plan.json)")
        from ftlang.compiler.canonical import load_plan
        plan = load_plan(plan_path.read_text(encoding="utf-8"))
    else:
        plan = _load_plan(args)
        if plan is None:
            return 1
    try:
        result = run_plan(plan, Path(args.out) if args.out else None,
                          resume=Path(args.resume) if args.resume else None, quiet=args.quiet)
    except RunError as exc:
        where = f"{exc.location}: " if exc.location else ""
        print(f"error: {where}{exc.message}", file=sys.stderr)
        if exc.help:
            print(f"  = help: {exc.help}", file=sys.stderr)
        return 1
    print(f"run directory: {result.run_dir}")
    return 0
