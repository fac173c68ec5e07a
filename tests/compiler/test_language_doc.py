"""Every example in docs/language.md compiles as the page says it does."""

import re

import pytest

from ftlang.compiler.api import check_source
from ftlang.compiler.parser import parse
from ftlang.compiler.source import SourceFile
from tests.conftest import RECIPES, REPO

DOC = (REPO / "docs" / "language.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(ft|ft-fragment|ft-error)\n(.*?)```", DOC, re.S)


def _source(text: str, index: int) -> SourceFile:
    # Named as if it lay in recipes/, so its data paths resolve like the shipped recipes'.
    return SourceFile(str(RECIPES / f"language-doc-{index}.ft"), text)


def test_the_page_has_examples_of_each_kind():
    kinds = {kind for kind, _ in BLOCKS}
    assert kinds == {"ft", "ft-fragment", "ft-error"}
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("index", [i for i, (k, _) in enumerate(BLOCKS) if k == "ft"])
def test_whole_recipes_check_clean(index):
    result = check_source(_source(BLOCKS[index][1], index))
    assert [d.message for d in result.diagnostics] == []
    assert result.plan is not None


@pytest.mark.parametrize("index", [i for i, (k, _) in enumerate(BLOCKS) if k == "ft-fragment"])
def test_fragments_parse(index):
    recipe, problems = parse(_source(BLOCKS[index][1], index))
    assert problems == [] and recipe is not None and recipe.items


@pytest.mark.parametrize("index", [i for i, (k, _) in enumerate(BLOCKS) if k == "ft-error"])
def test_error_examples_fail_with_their_code(index):
    text = BLOCKS[index][1]
    code = re.match(r"# error: (E\d{4})", text).group(1)
    result = check_source(_source(text, index))
    assert code in [d.code for d in result.diagnostics]
    assert not result.ok
