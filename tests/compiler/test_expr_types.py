"""`where` filters are typed at check time, and the checker agrees with the runtime's evaluator."""

from __future__ import annotations

import pytest

from ftlang.compiler import nodes as n
from ftlang.compiler.api import check_text
from ftlang.compiler.expr_types import field_types
from ftlang.compiler.parser import parse
from ftlang.compiler.source import SourceFile
from ftlang.compiler.values import filter_tree
from ftlang.runtime.data.filters import ExprError, matches

ROWS = [
    {"id": 1, "body": "My parcel is late.", "team": "shipping", "tags": ["late"], "urgent": True, "note": None},
    {"id": 2, "body": "Charged twice.", "team": "billing", "tags": [], "urgent": False, "note": "x"},
]

RECIPE = """
param limit: int = 400
param word: str = "refund"
model base = scratch(llama)
data tickets = rows(
  {{ id = 1, body = "My parcel is late.", team = "shipping", tags = ["late"], urgent = true }},
  {{ id = 2, body = "Charged twice.", team = "billing", tags = [], urgent = false }}
) {{
  where {where}
}}
prompt route {{
  input "{{{{ body }}}}"
  label "{{{{ team }}}}"
}}
method lora {{ rank = 8 }}
train {{ epochs = 1 }}
"""

WELL_TYPED = [
    "len(body) < limit",
    "len(body) < 400 and not urgent",
    'team == "billing" or team == "shipping"',
    'word in lower(body) or "late" in tags',
    'team in ["billing", "shipping"]',
    'strip(upper(team)) + "!" != "X"',
    "id * 2 - 1 >= -3 / 2",
    "len(tags) == 0 or urgent",
]

MISTYPED = {
    'len(body) < "abc"': "E0211",
    "team == 3": "E0211",
    "urgent < true": "E0211",
    "len(id) > 3": "E0212",
    "lower(id) == limit": "E0212",
    "len(body)": "E0210",
    "team and urgent": "E0213",
    "not team": "E0213",
    "body - 1 > 0": "E0214",
    '"a" + 1 == "b"': "E0214",
    "-team < 0": "E0214",
    "5 in body": "E0215",
    '"a" in id': "E0215",
}


def codes(where: str) -> list[str]:
    result = check_text(RECIPE.format(where=where))
    return [d.code for d in result.diagnostics]


def tree(where: str) -> dict:
    result = check_text(RECIPE.format(where=where))
    assert result.plan_data is not None, [d.message for d in result.diagnostics]
    return result.plan_data["data"][0]["where"][0]


@pytest.mark.parametrize("where", WELL_TYPED)
def test_a_well_typed_filter_checks_and_evaluates_on_every_row(where: str) -> None:
    assert codes(where) == []
    compiled = tree(where)
    for row in ROWS:
        matches([compiled], row)  # no ExprError: the types the checker saw hold at run time


@pytest.mark.parametrize(("where", "code"), MISTYPED.items())
def test_a_mistyped_filter_is_refused_with_its_own_code(where: str, code: str) -> None:
    assert codes(where) == [code]


@pytest.mark.parametrize("where", [w for w in MISTYPED if "==" not in w])
def test_what_the_checker_refuses_the_runtime_cannot_evaluate(where: str) -> None:
    # Without the check, the same tree fails on the rows (`==` across types is merely always false).
    recipe, problems = parse(SourceFile("recipe.ft", RECIPE.format(where=where)))
    assert recipe is not None and not problems
    data = next(item for item in recipe.items if isinstance(item, n.Decl) and item.kind == "data")
    assert data.body is not None
    statement = next(e for e in data.body.entries if isinstance(e, n.Statement) and e.name == "where")
    compiled = filter_tree(statement.value, {"limit": 400, "word": "refund"}, None, [])
    with pytest.raises(ExprError):
        matches([compiled], ROWS[0])


def test_field_types_come_from_the_rows_read() -> None:
    assert field_types(ROWS) == {
        "id": "number",
        "body": "text",
        "team": "text",
        "tags": "list",
        "urgent": "bool",
        "note": "text",  # null in one row: the other rows decide
    }
    assert field_types([{"x": 1}, {"x": "one"}, {"y": None}]) == {"x": "any", "y": "any"}
