"""`ft lsp`: the language server on stdio, for editors (needs the `lsp` extra)."""

from __future__ import annotations

import argparse
import importlib.util

from .common import EXIT_OK, MissingExtra, add_allow_path_option, command


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "lsp",
        cmd_lsp,
        "run the language server on stdin/stdout (editors start it; needs the `lsp` extra)",
        [
            "ft lsp",
            "ft lsp --allow-path ~/datasets   # recipes may read data kept outside their repository",
            "nvim: vim.lsp.start({ name = 'ft', cmd = { 'ft', 'lsp' } })",
        ],
        description="Diagnostics as you type (ft check's), hover, completion, formatting and "
        "go-to-definition for .ft recipes, over the Language Server Protocol. Folders outside a "
        "recipe's repository are allowed with --allow-path or the editor's initializationOptions "
        '{"allowPaths": [...]}. See docs/editors.md.',
    )
    add_allow_path_option(p)


def cmd_lsp(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("pygls") is None:
        raise MissingExtra("`ft lsp`", ["pygls"], "lsp")
    from ftlang.lsp.server import serve

    serve()
    return EXIT_OK
