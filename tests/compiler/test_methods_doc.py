"""Every recipe fragment in docs/methods.md parses."""

import re

import pytest

from ftlang.compiler.parser import parse
from ftlang.compiler.source import SourceFile
from tests.conftest import RECIPES, REPO

FRAGMENTS = re.findall(r"```ft-fragment\n(.*?)```", (REPO / "docs" / "methods.md").read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("index", range(len(FRAGMENTS)))
def test_fragments_parse(index):
    recipe, problems = parse(SourceFile(str(RECIPES / f"methods-doc-{index}.ft"), FRAGMENTS[index]))
    assert problems == [] and recipe is not None and recipe.items
