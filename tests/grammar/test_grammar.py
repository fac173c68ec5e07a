"""The grammar: conflict-free under strict LALR, and it parses every construct into nodes."""

import pytest

from ftlang.compiler import nodes as n
from ftlang.compiler.parser import parse
from ftlang.compiler.source import SourceFile
from tests.conftest import RECIPES


def _parse(text: str) -> n.Recipe:
    recipe, problems = parse(SourceFile("t.ft", text))
    assert problems == [], problems
    assert recipe is not None
    return recipe


def test_grammar_has_no_conflicts():
    # Strict mode raises GrammarError on any shift/reduce or reduce/reduce conflict. It needs lark
    # with `interegular`, which ftlang's own import of lark leaves out (larkload.py), so a fresh
    # process imports lark first.
    import subprocess
    import sys

    code = "import lark; from ftlang.compiler.parser import build_parser; build_parser(strict=True)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.ft")), ids=lambda p: p.name)
def test_shipped_recipes_parse(path):
    assert _parse(path.read_text()).items


def test_literals_have_their_values():
    recipe = _parse('train { a = 3, b = 2e-4, c = 3%, d = true, e = "x\\"y", f = 1_000, g = -2 }')
    values = {f.key.dotted: f.value for f in recipe.items[0].body.entries}
    assert values["a"].value == 3 and values["a"].kind == "int"
    assert values["b"].value == pytest.approx(2e-4) and values["b"].kind == "float"
    assert values["c"].value == pytest.approx(0.03) and values["c"].kind == "percent"
    assert values["d"].value is True
    assert values["e"].value == 'x"y'
    assert values["f"].value == 1000
    assert isinstance(values["g"], n.UnaryOp) and values["g"].operand.value == 2


def test_triple_quoted_strings_drop_first_newline_and_indent():
    recipe = _parse('prompt p {\n  user """\n    Hello {{ a }}\n      more\n  """\n}\n')
    literal = recipe.items[0].body.entries[0].value
    assert literal.value == "Hello {{ a }}\n  more"


def test_newlines_inside_brackets_are_ignored():
    recipe = _parse("method lora {\n  targets = [\n    q_proj,\n    v_proj,\n  ]\n}\n")
    targets = recipe.items[0].body.entries[0].value
    assert [t.dotted for t in targets.items] == ["q_proj", "v_proj"]


def test_operator_precedence():
    recipe = _parse("data d = rows({ a = 1 }) {\n  where a + 1 * 2 > 3 and not b or c\n}\n")
    expr = recipe.items[0].body.entries[0].value
    assert expr.op == "or"
    assert expr.left.op == "and"
    assert expr.left.left.op == ">"
    assert expr.left.left.left.op == "+" and expr.left.left.left.right.op == "*"
    assert isinstance(expr.left.right, n.UnaryOp)


def test_directives_take_qualifiers():
    recipe = _parse('eval {\n  guard jsonl("g.jsonl") max_drop 2% metric loss\n}\n')
    guard = recipe.items[0].body.entries[0]
    assert isinstance(guard, n.Statement) and guard.name == "guard"
    assert [q.name for q in guard.qualifiers] == ["max_drop", "metric"]


def test_keywords_are_names_inside_blocks():
    recipe = _parse("train { data = tickets.train, eval_every = 5 }")
    keys = [e.key.dotted for e in recipe.items[0].body.entries]
    assert keys == ["data", "eval_every"]


def test_import_param_extends_and_sweep_parse():
    recipe = _parse(
        'import "lib/x.ft" sha256 "abc" as house\nparam lr: float = 1e-4\n'
        "method lora extends house.lora { rank = 4 }\nsweep { train.lr = [1e-4, 2e-4] }\n"
    )
    imp, param, method, sweep = recipe.items
    assert imp.alias == "house" and imp.sha256.value == "abc"
    assert param.name == "lr" and param.type == "float"
    assert method.extends.dotted == "house.lora"
    assert sweep.body.entries[0].key.parts == ("train", "lr")


def test_spans_point_at_the_source():
    recipe = _parse("\n\ntrain {\n  epochs = 3\n}\n")
    field = recipe.items[0].body.entries[0]
    assert (field.span.line, field.span.col, field.span.end_col) == (4, 3, 13)


def test_comments_are_collected_but_not_inside_strings():
    recipe = _parse('# top\ntrain { epochs = 3 }  # trailing\nprompt p { user "a # b" }\n')
    assert [c.text for c in recipe.comments] == ["# top", "# trailing"]
