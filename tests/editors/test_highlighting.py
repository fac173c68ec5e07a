"""Highlighting: the Pygments lexer and the TextMate grammar colour every recipe without errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.token import Error, Keyword, String

from ftlang.pygments_lexer import FtLexer

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").rglob("*.ft"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_recipe_lexes_without_error_tokens(recipe: Path) -> None:
    tokens = list(FtLexer().get_tokens(recipe.read_text(encoding="utf-8")))
    assert [value for kind, value in tokens if kind in Error] == []
    assert "".join(value for _, value in tokens) == recipe.read_text(encoding="utf-8").rstrip("\n") + "\n"


def test_keywords_and_template_fields_are_told_apart() -> None:
    tokens = list(FtLexer().get_tokens('prompt p {\n  input "Hi {{ name }}"\n}\n'))
    assert (Keyword.Declaration, "prompt") in tokens
    assert (String.Interpol, "{{") in tokens and (String.Interpol, " name ") in tokens


def test_pygmentize_finds_the_lexer_by_its_entry_point(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "ft", "-f", "html", str(ROOT / "recipes" / "quickstart.ft")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '<span class="kd">recipe</span>' in out


def test_the_textmate_grammar_knows_every_declaration_keyword() -> None:
    grammar = json.loads((ROOT / "editors" / "vscode" / "syntaxes" / "ft.tmLanguage.json").read_text())
    declarations = re.findall(r'^\w+_decl: "(\w+)"', (ROOT / "grammar" / "ftlang.lark").read_text(), re.M)
    pattern = grammar["repository"]["declaration"]["match"]
    assert all(re.search(pattern, f"{word} x") for word in declarations)
    for pattern in re.findall(r'"match": "([^"]+)"', json.dumps(grammar)):
        re.compile(pattern.replace("\\\\", "\\"))
