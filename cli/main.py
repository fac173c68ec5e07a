"""`ft`: build the command line from the command modules and dispatch to one of them.

A command module has `register(sub)`, which adds its sub-commands with `common.command(...)`;
adding a command is one module and one entry in `COMMAND_MODULES`. Modules import heavy
packages inside their handlers, so `ft check` never pays for torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, TextIO

from ftlang import __version__

from . import (
    check_commands,
    completion_command,
    eval_commands,
    export_command,
    fmt_command,
    import_command,
    lsp_command,
    reproduce_command,
    run_command,
    share_commands,
)
from .common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_RECIPE, EXIT_USAGE, MissingExtra, UsageError

COMMAND_MODULES = (
    check_commands,
    run_command,
    fmt_command,
    share_commands,
    eval_commands,
    import_command,
    export_command,
    lsp_command,
    reproduce_command,
    completion_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ft",
        description="Check, plan and run fine-tuning recipes.",
        epilog="`ft COMMAND --help` describes a command, with examples. Exit codes: docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"ft (ftlang) {__version__}")
    parser.set_defaults(root_parser=parser)  # for commands that describe the whole line (`ft completion`)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


class _ClosedPipeTolerant:
    """A text stream that, once its reader has gone (`ft check … | head`), sends the rest to /dev/null.

    The command then finishes and exits with its usual status instead of a BrokenPipeError.
    """

    def __init__(self, stream: TextIO):
        self._stream = stream

    def _silence(self) -> None:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        except (OSError, ValueError):  # a stream without a file descriptor (a test's capture)
            pass

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ClosedPipeTolerant(sys.stdout), _ClosedPipeTolerant(sys.stderr)  # type: ignore[assignment]
    try:
        return _dispatch(argv)
    finally:
        for wrapper in (sys.stdout, sys.stderr):
            wrapper.flush()
        sys.stdout, sys.stderr = streams


def _dispatch(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage mistake argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        status: int = args.handler(args)
        return status
    except UsageError as exc:
        print(f"ft: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MissingExtra as exc:
        print(f"error: {exc}\n  = help: {exc.help}", file=sys.stderr)
        return EXIT_RECIPE
    except KeyboardInterrupt:
        print("ft: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # anything reaching here is a bug in ftlang, never the user's mistake
        if os.environ.get("FT_DEBUG"):
            traceback.print_exc()
        else:
            from ftlang.plan.redact import redact  # the error's text may hold a path or a value with a secret

            kind, value, _ = sys.exc_info()
            print(
                redact(f"ft: internal error ({kind.__name__ if kind else 'error'}: {value}); this is a bug in ftlang.")
                + " Rerun with FT_DEBUG=1 for the traceback and report it.",
                file=sys.stderr,
            )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
