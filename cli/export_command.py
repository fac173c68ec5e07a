"""`ft export RUNDIR OUT [--merged]`: a run's model as a folder to ship, with a model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK, EXIT_RECIPE, command, print_run_error, require_runtime
from .consent import add_trust_option, pinned_plan, read_plan


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "export",
        cmd_export,
        "write a run's model to a folder: the adapter alone, or merged into its base, with a model card",
        ["ft export runs/support-20260101-120000-3f9c1e0a out/support-adapter", "ft export RUNDIR out/merged --merged"],
    )
    p.add_argument("run", metavar="RUNDIR", help="a finished run directory (it holds plan.json and model/)")
    p.add_argument("out", metavar="OUT", help="a new or empty folder to write")
    p.add_argument("--merged", action="store_true", help="fold a LoRA adapter into its base: one plain model")
    add_trust_option(p)


def cmd_export(args: argparse.Namespace) -> int:
    require_runtime("export")  # before importing the runtime
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.export import export_run

    plan_file = Path(args.run) / "plan.json"
    # --merged loads the base model, which may run its repository's code: consent as for ft run.
    check = (lambda p: read_plan(p, args.trust_remote_code)) if args.merged else pinned_plan
    if plan_file.is_file() and check(plan_file) is None:
        return EXIT_RECIPE
    try:
        out = export_run(args.run, args.out, merged=args.merged)
    except RunError as exc:
        return print_run_error(exc)
    print(f"exported {'the merged model' if args.merged else 'the model'} of {args.run} to {out}")
    return EXIT_OK
