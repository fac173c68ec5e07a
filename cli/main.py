"""`ft`: parse the command line and dispatch to one command module."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from . import commands

EXIT_OK, EXIT_RECIPE, EXIT_USAGE, EXIT_GATE, EXIT_INTERNAL = 0, 1, 2, 3, 70


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got `{text}`")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ft", description="Check, plan and run fine-tuning recipes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_set(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="set a param (NAME=VALUE) or any field (block.field=VALUE); repeatable",
        )

    p = sub.add_parser("check", help="check recipes and report every problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=["text", "json"], default="text")
    with_set(p)

    p = sub.add_parser("plan", help="show what a recipe will run")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the canonical plan JSON")
    with_set(p)

    p = sub.add_parser("run", help="train a recipe or a plan.json into a run directory")
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
    with_set(p)

    p = sub.add_parser("fmt", help="format recipes in the one canonical layout")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--check", action="store_true", help="exit 1 if a file would change; write nothing")
    p.add_argument("--diff", action="store_true", help="print the changes as a unified diff; write nothing")

    p = sub.add_parser("explain", help="explain a diagnostic code, e.g. ft explain E0102")
    p.add_argument("code")

    sub.add_parser("schema", help="print the JSON Schema of the Plan")

    p = sub.add_parser("lock", help="write RECIPE.lock with the hash of every imported file")
    p.add_argument("file", metavar="RECIPE")
    with_set(p)

    p = sub.add_parser("diff", help="the semantic difference of two recipes' resolved plans")
    p.add_argument("old", metavar="A", help="a recipe file, or REV:path in git")
    p.add_argument("new", metavar="B", help="a recipe file, or REV:path in git")
    p.add_argument("--format", choices=["text", "md"], default="text")
    with_set(p)

    p = sub.add_parser("eval", help="evaluate a finished run's model again (exit 3 when a gate fails)")
    p.add_argument("run", metavar="RUNDIR")
    p.add_argument("--recipe", metavar="OTHER.ft", help="use this recipe's eval block and data instead")
    p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    with_set(p)

    p = sub.add_parser("compare", help="tabulate runs side by side: metrics, plan hashes, hyper-parameters")
    p.add_argument("runs", nargs="+", metavar="RUNDIR")
    p.add_argument("--format", choices=["text", "md"], default="text")

    p = sub.add_parser("report", help="rewrite a run's report.md and report.html from its files")
    p.add_argument("run", metavar="RUNDIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return commands.dispatch(args)
    except commands.UsageError as exc:
        print(f"ft: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ft: interrupted", file=sys.stderr)
        return 130
    except Exception:  # anything reaching here is a bug in ftlang, never the user's mistake
        if os.environ.get("FT_DEBUG"):
            traceback.print_exc()
        else:
            kind, value, _ = sys.exc_info()
            print(
                f"ft: internal error ({kind.__name__ if kind else 'error'}: {value}); this is a bug in ftlang."
                " Rerun with FT_DEBUG=1 for the traceback and report it.",
                file=sys.stderr,
            )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
