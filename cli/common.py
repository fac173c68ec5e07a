"""What every `ft` command shares: exit codes, usage errors, `--set` and `--format`, diagnostics and run errors."""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftlang.compiler.api import CheckResult

EXIT_OK, EXIT_RECIPE, EXIT_USAGE, EXIT_GATE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 70, 130

Handler = Callable[[argparse.Namespace], int]
_HELP_WIDTH = 79  # a command's description in `--help`, as argparse wraps its options


def redacting(command: Handler) -> Handler:
    """A command whose output, its prints and whatever the runtime writes (progress, warnings, logs,
    run errors), passes through the one redaction of secrets on its way to stdout and stderr."""

    def run(args: argparse.Namespace) -> int:
        from ftlang.plan.redact import redacted_output

        with redacted_output():
            return command(args)

    run.__name__, run.__doc__ = command.__name__, command.__doc__
    return run


class UsageError(Exception):
    """A mistake in the command line itself (exit 2)."""


class MissingExtra(Exception):
    """A command needs an optional part of ftlang that is not installed (exit 1); says what to install."""

    def __init__(self, what: str, missing: list[str], extra: str):
        super().__init__(
            f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed"
        )
        self.help = f"pip install 'ftlang[{extra}]'"


def require_runtime(command_name: str) -> None:
    """Stop before importing the runtime when the `run` extra is not installed (a light install)."""
    from ftlang.compiler.environment import installed

    missing = [name for name in _extra_requirements("run") if not installed(name)]
    if missing:
        raise MissingExtra(f"`ft {command_name}` runs models, so it", missing, "run")


def _extra_requirements(extra: str) -> list[str]:
    """The distributions an extra of ftlang installs, read from ftlang's own metadata (none when run from a tree)."""
    from importlib import metadata

    try:
        requirements = metadata.requires("ftlang") or []
    except metadata.PackageNotFoundError:
        return []
    marker = f'extra == "{extra}"'
    return [re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0] for r in requirements if marker in r]


def command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: Handler,
    summary: str,
    examples: list[str],
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A sub-command whose `--help` ends with examples; `handler(args)` runs it and returns the exit code."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser = sub.add_parser(
        name,
        help=summary,
        # Wrapped here: the raw formatter, which keeps the examples' lines, would print it as one line.
        description=textwrap.fill(
            description or summary[0].upper() + summary[1:] + ".", _HELP_WIDTH, break_on_hyphens=False
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The options of every command that checks a recipe: `--set` and `--allow-path`."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a param (NAME=VALUE) or any field (block.field=VALUE); repeatable; the command line wins",
    )
    add_allow_path_option(parser)


def add_allow_path_option(parser: argparse.ArgumentParser) -> None:
    """`--allow-path DIR`: a folder outside the recipe's repository that it may read (E0620)."""
    parser.add_argument(
        "--allow-path",
        action=_AllowPath,
        metavar="DIR",
        help="let the recipe read files under DIR, outside its repository (E0620); repeatable",
    )


class _AllowPath(argparse.Action):
    """Adds DIR to FTLANG_ALLOW_PATHS, which the checker reads (and processes started by this one inherit)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        from ftlang.compiler.confine import allow

        allow(Path(values))


def add_format_option(parser: argparse.ArgumentParser, choices: list[str], what: str) -> None:
    """`--format` (one spelling on every command), with `--json` kept as its short form."""
    parser.add_argument(
        "--format",
        choices=choices,
        default="text",
        help=f"how to print {what}: {', '.join(choices)} (default text)",
    )
    if "json" in choices:
        parser.add_argument(
            "--json", dest="format", action="store_const", const="json", help="the same as --format json"
        )


def parse_set_pairs(pairs: list[str]) -> dict[str, str]:
    """The `--set NAME=VALUE` options as a name → text mapping (the compiler types the values)."""
    from ftlang.plan.redact import remember_set_value

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got `{pair}`")
        out[name.strip()] = value
        remember_set_value(name.strip(), value)  # a secret given here is masked wherever it shows
    return out


def recipe_files(paths: list[str]) -> list[Path]:
    """The files named, and every `.ft` below each folder named (hidden folders skipped), in a stable order."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*.ft") if not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {name}")
    return files


def colour(stream: Any) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")


def print_diagnostics(result: CheckResult, path: str) -> None:
    """Every diagnostic of a check, rendered like rustc, and the summary line, on standard error."""
    from ftlang.compiler.render import render_text, summary_line

    if result.diagnostics:
        sys.stderr.write(render_text(result.diagnostics, result.sources, colour=colour(sys.stderr)) + "\n")
        print(summary_line(result.diagnostics, path), file=sys.stderr)


def checked(path: str, sets: list[str]) -> CheckResult:
    """The check of one recipe file with its `--set` overrides."""
    from ftlang.compiler.api import check_path

    if not Path(path).is_file():
        raise UsageError(f"no such recipe file: {path}")
    return check_path(path, parse_set_pairs(sets))


def print_run_error(exc: Any, rank: int | None = None) -> int:  # exc: ftlang.runtime.errors.RunError
    """The one way a run-time user error is shown: where, what, and how to fix it; exit 1."""
    from ftlang.plan.redact import redact  # a message may quote a data row or a path holding a token

    who = f"rank {rank}: " if rank else ""  # every process of a failed distributed run says why
    where = f"{exc.location}: " if exc.location else ""
    print(redact(f"error: {who}{where}{exc.message}"), file=sys.stderr)
    if exc.help:
        print(redact(f"  = help: {exc.help}"), file=sys.stderr)
    return EXIT_RECIPE


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, for a terminal."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])
