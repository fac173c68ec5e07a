"""`ft reproduce RUN`: rerun a run's own plan and say, artefact by artefact, whether it came out the same."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import EXIT_OK, EXIT_RECIPE, UsageError, command, print_run_error, redacting, require_runtime
from .consent import add_trust_option, read_plan

if TYPE_CHECKING:
    from ftlang.plan.models import Plan
    from ftlang.runtime.reproduce import Change, Verdict

# A rerun that differs is neither a user mistake (1) nor a failed gate (3): it has its own code.
EXIT_DIFFERENT = 4


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "reproduce",
        cmd_reproduce,
        "rerun a run's plan and compare every artefact with the original",
        [
            "ft reproduce runs/support",
            "ft reproduce runs/support --steps 20      # only the first 20 steps: a cheap check",
            "ft reproduce runs/support --out runs/support-again --format json",
        ],
        description="Checks first that the pinned data, imports, model weights and tokenizer are the same "
        "content and names what differs (library versions too); then reruns the plan and compares "
        "metrics.jsonl (without clock fields), evaluation.json, summary.json, every weight file by hash and "
        f"the report's numbers. Exit 0: identical; {EXIT_DIFFERENT}: something differs; 1: the run cannot "
        "be rerun as it was (its inputs changed).",
    )
    p.add_argument("run", metavar="RUNDIR", help="the run directory to reproduce")
    p.add_argument("--out", metavar="DIR", help="where the rerun goes (default: a temporary folder, removed)")
    p.add_argument("--steps", type=int, metavar="N", help="rerun and compare only the first N steps")
    p.add_argument("--format", choices=["text", "json"], default="text", help="how to print the table")
    add_trust_option(p)


@redacting
def cmd_reproduce(args: argparse.Namespace) -> int:
    require_runtime("reproduce")
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.reproduce import compare_runs, input_changes

    run_dir = Path(args.run)
    if not (run_dir / "plan.json").is_file():
        raise UsageError(f"{run_dir} is not a run directory (no plan.json)")
    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps takes a whole number of at least 1")
    plan = read_plan(run_dir / "plan.json", args.trust_remote_code)
    if plan is None:
        return EXIT_RECIPE
    try:
        changes = _recipe_changes(plan) + input_changes(run_dir, plan)
    except RunError as exc:
        return print_run_error(exc)
    _print_changes(changes)
    if any(change.decisive for change in changes):
        print("error: the run's inputs changed, so a rerun would not be the same run; nothing was run", file=sys.stderr)
        return EXIT_RECIPE
    with tempfile.TemporaryDirectory(prefix="ft-reproduce-") as scratch:
        out = Path(args.out) if args.out else Path(scratch) / "rerun"
        try:
            _rerun(plan, out, args.steps)
        except RunError as exc:
            return print_run_error(exc)
        verdicts = compare_runs(run_dir, out, args.steps)
        _print_verdicts(verdicts, args.format, changes)
    return EXIT_OK if all(v.identical for v in verdicts) else EXIT_DIFFERENT


def _rerun(plan: Plan, out: Path, steps: int | None) -> None:
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.run import run_plan

    if plan.compute.processes > 1:
        raise RunError(
            "ft reproduce reruns on one process; this run used several",
            help="rerun it with `ft run RUNDIR/plan.json --nproc N --out NEW` and compare with `ft compare`",
        )
    # The rerun's own closing line is not the table: it goes to standard error with the notes.
    with contextlib.redirect_stdout(sys.stderr):
        run_plan(plan, out, quiet=True, stop_after=steps)


def _recipe_changes(plan: Plan) -> list[Change]:
    """The recipe and its imports by their normalised trees, as the plan pinned them."""
    from ftlang.compiler.imports import normalised_hash
    from ftlang.compiler.parser import parse
    from ftlang.compiler.source import SourceFile
    from ftlang.runtime.reproduce import Change

    changes = []
    for pinned in plan.sources:
        path = Path(plan.root) / pinned.path
        try:
            recipe, _ = parse(SourceFile.read(path))
            now = normalised_hash(recipe)[:12] if recipe is not None else "unparsable"
        except (OSError, UnicodeDecodeError):
            now = "missing"
        if now != pinned.sha256[:12]:
            changes.append(Change("recipe", pinned.path, pinned.sha256[:12], now, decisive=False))
    return changes


def _print_changes(changes: list[Change]) -> None:
    for change in changes:
        consequence = "the rerun cannot match" if change.decisive else "the rerun may still match"
        print(
            f"changed: {change.kind} {change.what}: {change.before} → {change.now} ({consequence})",
            file=sys.stderr,
        )


def _print_verdicts(verdicts: list[Verdict], fmt: str, changes: list[Change]) -> None:
    if fmt == "json":
        document: dict[str, Any] = {
            "identical": all(v.identical for v in verdicts),
            "changes": [vars(c) for c in changes],
            "artefacts": [vars(v) for v in verdicts],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    width = max(len(v.artefact) for v in verdicts)
    for v in verdicts:
        state = "identical" if v.identical else "different"
        print(f"{v.artefact:<{width}}  {state}" + (f"  ({v.first_difference})" if v.first_difference else ""))
    same = sum(v.identical for v in verdicts)
    print(f"{same} of {len(verdicts)} artefacts identical")
