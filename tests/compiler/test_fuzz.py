"""Fuzz the compiler with mutated recipes: any text gives diagnostics, never an exception."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftlang.compiler.api import check_text
from ftlang.compiler.render import render_text, summary_line, to_json

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
SEEDS = {name: (RECIPES / name).read_text(encoding="utf-8") for name in ("quickstart.ft", "sft-tiny.ft", "dpo-tiny.ft")}

# Pieces a user (or a bad merge) might put in the wrong place: keywords, names of
# fields and choices, values of every kind, and the punctuation the grammar uses.
WORDS = [
    "recipe",
    "import",
    "param",
    "model",
    "data",
    "prompt",
    "method",
    "train",
    "eval",
    "sweep",
    "extends",
    "as",
    "sha256",
    "and",
    "or",
    "not",
    "in",
    "true",
    "false",
    "where",
    "dedupe",
    "split",
    "seed",
    "on",
    "metrics",
    "compare",
    "guard",
    "max_drop",
    "require",
    "generate",
    "input",
    "label",
    "target",
    "chosen",
    "rejected",
    "system",
    "user",
    "assistant",
    "lora",
    "dpo",
    "full",
    "rank",
    "alpha",
    "dropout",
    "targets",
    "beta",
    "loss",
    "adapter",
    "epochs",
    "lr",
    "batch",
    "micro_batch",
    "schedule",
    "cosine",
    "linear",
    "warmup",
    "pack",
    "jsonl",
    "csv",
    "rows",
    "hf",
    "local",
    "package",
    "scratch",
    "llama",
    "delta",
    "len",
    "tickets.eval",
    "prefs.train",
    "base",
    "accuracy",
    "rouge_l",
    "contains",
    "regex",
    "0",
    "-1",
    "1e-4",
    "2e400",
    "3.5",
    "10%",
    "200%",
    "007",
    "1_000",
    '""',
    '"{{ body }}"',
    '"{{ nope }}"',
    '"{% if %}"',
    '"""\n  {{ x }\n"""',
    '"data/none.jsonl"',
    '"../recipes/data/tickets.jsonl"',
    '"/"',
    '"."',
    'import "lib/lora.ft" as house\n',
    "extends house.lora",
    "extends house.standard",
    'import "lib/none.ft" as x\n',
    'sha256 "00"',
    "house.",
    "sweep { train.lr = [1e-3, 2e-3] }\n",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "=",
    ":",
    ",",
    ".",
    "%",
    ">=",
    "<",
    "+",
    "-",
    "*",
    "/",
    "#",
    '"',
    "'",
    ";",
    "\n",
    "\t",
    "\r\n",
    " ",
    "é",
    "\x00",
    "\\",
    "{{",
    "}}",
]


def _tokens(text: str) -> list[str]:
    """Split text into words, strings, numbers, punctuation and runs of space, losslessly."""
    return re.findall(r'"""[\s\S]*?"""|"[^"\n]*"|\w+|\s+|.', text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                [
                    "char-delete",
                    "char-insert",
                    "char-dup",
                    "char-swap",
                    "token-delete",
                    "token-insert",
                    "token-dup",
                    "token-swap",
                    "truncate",
                    "line-dup",
                    "line-delete",
                ]
            )
        )
        if kind.startswith("char") and text:
            i = draw(st.integers(0, len(text) - 1))
            if kind == "char-delete":
                text = text[:i] + text[i + 1 :]
            elif kind == "char-insert":
                text = text[:i] + draw(st.sampled_from(WORDS + list("{}()[]=,.:\"'#%\n"))) + text[i:]
            elif kind == "char-dup":
                text = text[:i] + text[i] + text[i:]
            elif i + 1 < len(text):
                text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif kind.startswith("token"):
            tokens = _tokens(text) or [""]
            i = draw(st.integers(0, len(tokens) - 1))
            if kind == "token-delete":
                del tokens[i]
            elif kind == "token-insert":
                tokens.insert(i, draw(st.sampled_from(WORDS)))
            elif kind == "token-dup":
                tokens.insert(i, tokens[i])
            else:
                j = draw(st.integers(0, len(tokens) - 1))
                tokens[i], tokens[j] = tokens[j], tokens[i]
            text = "".join(tokens)
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "line-dup":
                lines.insert(i, lines[i])
            else:
                del lines[i]
            text = "\n".join(lines)
    return text


def _check_all_outputs(text: str, overrides: dict[str, str] | None = None) -> None:
    # The recipes folder is the root, so the mutated recipes still find their data files.
    path = str(RECIPES / "fuzzed.ft")
    result = check_text(text, path, overrides)
    if result.ok and not result.is_library:
        # A recipe that checks clean builds its pydantic Plan: the fast schema check and
        # the Plan models agree.
        assert result.plan is not None
    rendered = render_text(result.diagnostics, result.sources)
    assert "Traceback" not in rendered
    # Colour only adds escape codes: without them the terminal shows the plain text.
    coloured = render_text(result.diagnostics, result.sources, colour=True)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == rendered
    summary_line(result.diagnostics, path)
    document = json.loads(to_json(result.diagnostics, result.sources))
    assert len(document["diagnostics"]) == len(result.diagnostics)
    for d in result.diagnostics:
        assert d.code[0] in "EW" and d.message, d
        assert d.span.line >= 1 and d.span.col >= 1, d
    if not result.ok:
        assert any(d.severity == "error" for d in result.diagnostics), "not ok, yet no error said why"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_recipes_give_diagnostics_never_exceptions(text: str) -> None:
    _check_all_outputs(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30).map("".join))
def test_random_word_soup_gives_diagnostics(text: str) -> None:
    _check_all_outputs(text)


OVERRIDES = st.dictionaries(
    st.sampled_from(
        [
            "lr",
            "x",
            "train.lr",
            "train.epochs",
            "method.rank",
            "eval.on",
            "model.dtype",
            "train.",
            ".",
            "",
            "lr.x",
            "data.path",
        ]
    ),
    st.sampled_from(["1", "0", "-1", "abc", "", "1e-4", "true", "[1]", '"q"', "10%", "{"]),
    max_size=3,
)


@settings(max_examples=80, deadline=None)
@given(mutated(), OVERRIDES)
def test_mutated_recipes_with_overrides(text: str, overrides: dict[str, str]) -> None:
    _check_all_outputs(text, overrides)


def test_the_seed_recipes_check_clean() -> None:
    for name, text in SEEDS.items():
        result = check_text(text, str(RECIPES / name))
        assert result.ok, (name, render_text(result.diagnostics, result.sources))
