"""Every field and statement a recipe can write has a hover text: a new field needs its sentence."""

from __future__ import annotations

import pytest

from ftlang.lsp.vocabulary import DECLARATIONS, block_shape
from ftlang.plan import catalogue
from ftlang.plan.field_docs import FIELD_DOCS, STATEMENT_DOCS

BLOCKS = [(d, None) for d in DECLARATIONS] + [("method", name) for name in catalogue.METHODS]


def _shapes() -> list[tuple[str, str | None, str, str]]:
    found = []
    for declaration, name in BLOCKS:
        shape = block_shape(declaration, name)
        if shape is None:
            continue
        found += [(declaration, name, "field", f) for f in sorted(shape.fields)]
        found += [(declaration, name, "statement", s) for s in sorted(shape.statements)]
    return found


@pytest.mark.parametrize("declaration,name,kind,entry", _shapes())
def test_every_entry_has_a_hover_text(declaration: str, name: str | None, kind: str, entry: str) -> None:
    if kind == "field":
        assert entry in FIELD_DOCS.get(declaration, {}) or entry in FIELD_DOCS["*"], (
            f"plan/field_docs.py: FIELD_DOCS[{declaration!r}] has no sentence for `{entry}`"
        )
    else:
        assert entry in STATEMENT_DOCS, f"plan/field_docs.py: STATEMENT_DOCS has no sentence for `{entry}`"
