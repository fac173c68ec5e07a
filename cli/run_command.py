"""`ft run`: compile a recipe (or read a plan.json) and hand the Plan to the runtime."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    EXIT_OK,
    EXIT_RECIPE,
    UsageError,
    add_set_option,
    checked,
    command,
    print_diagnostics,
    print_run_error,
    redacting,
    require_runtime,
)
from .consent import add_trust_option, read_plan
from .eval_commands import print_outcome

if TYPE_CHECKING:
    from ftlang.plan.models import Plan


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got `{text}`")
    return int(text)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "run",
        cmd_run,
        "train a recipe or a plan.json into a run directory",
        [
            "ft run recipes/support.ft",
            "ft plan recipes/support.ft --format json > plan.json && ft run plan.json --out runs/support",
            "ft run --resume runs/support       # after a kill: continue from the last checkpoint",
            "ft run recipes/support.ft --nproc 8",
        ],
    )
    p.add_argument("file", metavar="FILE", nargs="?", help="a .ft recipe or a plan .json")
    p.add_argument("--out", metavar="DIR", help="the run directory (default runs/<recipe>-<time>-<hash>)")
    p.add_argument("--resume", metavar="RUNDIR", help="continue a stopped run from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar, for CI logs")
    p.add_argument(
        "--nproc",
        type=_positive,
        metavar="N",
        help="train on N processes through torchrun (sets compute.processes; docs/scaling.md)",
    )
    add_trust_option(p)
    add_set_option(p)


def _load_plan(args: argparse.Namespace) -> Plan | None:
    """A plan .json written by `ft plan --json` (or by a launcher for its workers)."""
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such plan file: {path}")
    return read_plan(path, args.trust_remote_code)


@redacting
def cmd_run(args: argparse.Namespace) -> int:
    if args.resume is None and args.file is None:
        raise UsageError("give a recipe or plan to run, or --resume RUNDIR")
    require_runtime("run")
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.train import launch

    plan = None
    if args.resume is not None:
        resume = Path(args.resume)
        plan_path = resume / "plan.json"
        if not plan_path.is_file():
            raise UsageError(f"{resume} is not a run directory (no plan.json)")
        plan = read_plan(plan_path, args.trust_remote_code)
        if plan is None:
            return EXIT_RECIPE
    else:
        if Path(args.file).suffix != ".json":
            result = checked(args.file, args.set)  # once: a sweep and a single run share it
            print_diagnostics(result, args.file)
            if result.ok and result.resolution and result.resolution.sweep:
                from .sweep_command import run_sweep

                return run_sweep(args, result)
            plan = result.plan if result.ok else None
        else:
            plan = _load_plan(args)
        if plan is None:
            return EXIT_RECIPE
    launched = launch.launched_size()  # set when torchrun started this process
    if args.nproc is not None and launched is not None and args.nproc != launched:
        raise UsageError(
            f"--nproc {args.nproc}, but the launcher started {launched} processes: leave --nproc out under torchrun"
        )
    if launched or args.nproc:
        plan = launch.with_processes(plan, launched or args.nproc)
    rank = launch.launched_rank()
    try:
        if launched is None and plan.compute.processes > 1:
            return _launch(plan, args)
        from ftlang.runtime.run import run_plan

        result = run_plan(
            plan,
            Path(args.out) if args.out else None,
            resume=Path(args.resume) if args.resume else None,
            quiet=args.quiet,
        )
    except RunError as exc:
        return print_run_error(exc, rank)
    if rank == 0:
        print(f"run directory: {result.run_dir}")
        return print_outcome(result.run_dir, result.outcome)  # exit 3 when a gate or guard failed
    return EXIT_OK


def _launch(plan: Plan, args: argparse.Namespace) -> int:
    """`ft run --nproc N`: checked and compiled once here, then run by N processes under torchrun."""
    import tempfile

    from ftlang.plan.canonical import plan_json
    from ftlang.runtime import rundir
    from ftlang.runtime.train import launch

    n = plan.compute.processes
    # Checked once here, rather than once by every process.
    if args.resume is not None:
        launch.check_resume_world(Path(args.resume), n)
    launch.check_plan(plan, n)
    # The workers read a plan.json: the consent given here (a checked recipe or the flag) goes with it.
    flags = ["--quiet"] * args.quiet + ["--trust-remote-code"] * plan.model.trust_remote_code
    if args.resume is not None:
        return launch.torchrun(["run", "--resume", args.resume, *flags], n)
    # One run directory for all processes, named here: the default one carries the time.
    out = Path(args.out) if args.out else rundir.default_run_dir(plan)
    rundir.check_free(out)
    with tempfile.TemporaryDirectory(prefix="ft-launch-") as tmp:
        plan_file = Path(tmp) / "plan.json"
        plan_file.write_text(plan_json(plan), encoding="utf-8")
        return launch.torchrun(["run", str(plan_file), "--out", str(out), *flags], n)
