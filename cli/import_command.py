"""`ft import TOOL CONFIG`: a recipe from an Axolotl, LLaMA-Factory or TRL config, and a table of every key."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from ftlang.compiler.importers import TOOLS, TRL_TRAINERS, ImportFailure, import_config
from ftlang.compiler.importers.draft import KeyReport

from .common import EXIT_OK, EXIT_RECIPE, UsageError, add_format_option, command, text_table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "import",
        cmd_import,
        "write a recipe from an Axolotl, LLaMA-Factory or TRL config, with a table of every key",
        [
            "ft import axolotl examples/llama-3/qlora.yml -o recipes/llama3-qlora.ft",
            "ft import llamafactory examples/train_lora/llama3_lora_sft.yaml -o sft.ft --format md",
            "ft import trl dpo.yaml --trainer dpo -o dpo.ft",
        ],
    )
    p.add_argument("tool", choices=TOOLS, help="the tool the config is written for: " + ", ".join(TOOLS))
    p.add_argument("config", metavar="CONFIG", help="the tool's YAML config")
    p.add_argument("-o", "--output", metavar="FILE", help="write the recipe here (default: standard output)")
    p.add_argument(
        "--trainer",
        choices=TRL_TRAINERS,
        default="sft",
        help="trl only: the TRL command the config is for (`trl sft|dpo|kto|orpo --config`); default sft",
    )
    add_format_option(p, ["text", "md", "json"], "the table of keys (standard error without -o)")


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if not path.is_file():
        raise UsageError(f"no such config file: {path}")
    try:
        imported = import_config(args.tool, path, args.trainer)
    except ImportFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RECIPE
    if args.output:
        Path(args.output).write_text(imported.recipe, encoding="utf-8")
        table_stream = sys.stdout
    else:
        sys.stdout.write(imported.recipe)
        table_stream = sys.stderr
    print(key_table(imported.report, args.format), file=table_stream)
    if args.output:
        print(f"wrote {args.output}; check it with `ft check {args.output}`", file=sys.stderr)
    return EXIT_OK


def key_table(report: list[KeyReport], form: str) -> str:
    """Every key of the config: its value, mapped / mapped differently / not supported, and where or why."""
    if form == "json":
        return json.dumps({"format_version": 1, "keys": [asdict(r) for r in report]}, indent=2, ensure_ascii=False)
    rows = [[r.key, _short(r.value), r.status, r.detail] for r in report]
    if form == "md":
        escape = str.maketrans({"|": "\\|"})
        lines = ["| key | value | status | in the recipe, or why not |", "|---|---|---|---|"]
        lines += [
            "| " + " | ".join(f"`{c}`" if i < 2 else c.translate(escape) for i, c in enumerate(row)) + " |"
            for row in rows
        ]
        return "\n".join(lines)
    return text_table(["key", "value", "status", "in the recipe, or why not"], rows)


def _short(value: str, width: int = 40) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"
