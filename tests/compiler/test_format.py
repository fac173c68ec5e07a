"""Tests of the formatter: golden cases, generated recipes (hypothesis), stability on recipes/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftlang.compiler import format as fmt
from ftlang.compiler.format import FormatResult, FormatterBug, format_recipe, format_source, strip_spans
from ftlang.compiler.format_doc import WIDTH
from ftlang.compiler.parser import parse
from ftlang.compiler.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "data" / "format"
MARKER = "# --- output ---\n"
_MARKER_LINE = re.compile(r"^# --- output ---\n", re.M)
REGEN = os.environ.get("FT_REGEN") == "1"


def _read_case(path: Path) -> tuple[str, str]:
    parts = _MARKER_LINE.split(path.read_text(encoding="utf-8"), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _tree(text: str):
    recipe, diagnostics = parse(SourceFile("<t>", text))
    assert recipe is not None, [d.message for d in diagnostics]
    return recipe


def _comments(text: str) -> list[str]:
    return sorted(c.text for c in _tree(text).comments)


def _formatted(text: str) -> str:
    result = format_source(text)
    assert result.text is not None, [d.message for d in result.diagnostics]
    return result.text


GOLDEN = sorted(CASES.glob("*.ft"))


# --- golden cases --------------------------------------------------------------


def test_there_are_enough_golden_cases() -> None:
    assert len(GOLDEN) >= 15


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    """Each case: input, the marker line, the expected output. FT_REGEN=1 rewrites the output."""
    source, expected = _read_case(path)
    actual = _formatted(source)
    if REGEN:
        path.write_text(source + MARKER + actual, encoding="utf-8")
        return
    assert actual == expected, f"{path.name}: rerun with FT_REGEN=1 and review the diff"
    assert strip_spans(_tree(actual)) == strip_spans(_tree(source))
    assert _comments(actual) == _comments(source)


# --- stability ---------------------------------------------------------------------


def _stability_inputs() -> list[tuple[str, str]]:
    """Every recipe in recipes/ (there may be none yet) and every golden output."""
    found = [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted((ROOT / "recipes").rglob("*.ft"))
    ]
    found += [(f"golden output {p.stem}", _read_case(p)[1]) for p in GOLDEN]
    return found


_STABILITY = _stability_inputs()


@pytest.mark.parametrize(("name", "text"), _STABILITY, ids=[name for name, _ in _STABILITY])
def test_formatting_is_stable(name: str, text: str) -> None:
    once = _formatted(text)
    assert _formatted(once) == once, name
    if name.startswith("golden output") and not REGEN:
        assert once == text, "a golden output is not already formatted"


# --- API ------------------------------------------------------------------------------


def test_parse_errors_give_diagnostics_and_no_text() -> None:
    result = format_source("train {\n  lr = \n}\n", "bad.ft")
    assert isinstance(result, FormatResult)
    assert result.text is None
    assert result.diagnostics and result.diagnostics[0].span.file == "bad.ft"


def test_format_recipe_takes_a_parsed_recipe() -> None:
    text = "train { epochs = 3 }  # three\n"
    recipe = _tree(text)
    assert format_recipe(recipe, text) == "train {\n  epochs = 3\n}  # three\n"


def test_result_is_frozen() -> None:
    result = format_source("train {}\n")
    with pytest.raises(AttributeError):
        result.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", ""),
        ("\n\n\n", ""),
        ("# only a comment", "# only a comment\n"),
        ("\n\n# c\n\n\nrecipe x\n\n\n# end\n\n", "# c\n\nrecipe x\n\n# end\n"),
        ("train {}", "train {}\n"),
        ("train {}\n\n\n", "train {}\n"),
        ("train {\r\n  epochs = 3\r\n}\r\n", "train {\n  epochs = 3\n}\n"),
        ("recipe x   \nparam a: int   \n", "recipe x\n\nparam a: int\n"),
    ],
)
def test_file_edges(source: str, expected: str) -> None:
    assert _formatted(source) == expected


def test_strip_spans_ignores_layout_but_not_values() -> None:
    a = strip_spans(_tree("train { lr = 2e-4, n = [1,\n 2] }\n"))
    b = strip_spans(_tree("train {\n    lr = 2e-4\n    n = [1, 2]\n}\n"))
    c = strip_spans(_tree("train { lr = 2E-4, n = [1, 2] }\n"))
    assert a == b
    assert a != c  # the raw spelling is part of the tree
    assert "span" not in repr(a)


def test_a_broken_layout_raises_formatter_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety check catches output that changes the tree or does not parse."""
    real = fmt._Builder.expr

    def drop_parentheses(self, expr, bracketed):  # type: ignore[no-untyped-def]
        doc = real(self, expr, bracketed)
        return doc[1] if isinstance(doc, list) and doc[:1] == ["("] else doc

    monkeypatch.setattr(fmt._Builder, "operand", lambda self, e, least, b: drop_parentheses(self, e, b))
    with pytest.raises(FormatterBug, match="syntax tree"):
        format_source("train { x = (a or b) and c }\n")

    monkeypatch.setattr(fmt._Builder, "operand", lambda self, e, least, b: real(self, e, b))
    monkeypatch.setattr(fmt._Builder, "entry", lambda self, e, b: "x =")
    with pytest.raises(FormatterBug, match="does not parse"):
        format_source("train { epochs = 3 }\n")


def test_an_unstable_layout_raises_formatter_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = iter(range(1000))
    real = fmt._layout
    monkeypatch.setattr(fmt, "_layout", lambda r, t: real(r, t) + "\n" * (next(calls) % 2))
    with pytest.raises(FormatterBug, match="not stable"):
        format_source("train {}\n")


TRICKY = '''\
# 1 file header
recipe tricky "a # not a comment"  # 2 header trailing
# 3 before import
import "a.ft" as a  # 4 import trailing
param p: int = (1 # 5 inside parentheses
  + 2)  # 6 param trailing
model m = hf(  # 7 after (
  "x",  # 8 after an argument
  # 9 before a keyword
  revision = "r"
  # 10 before )
)  # 11 after )
data d = jsonl("d") {  # 12 after {
  # 13 leading
  where a and b  # 14 trailing
  split {  # 15 record opened
    x = 1  # 16 in record
    # 17 record dangling
  } seed 7  # 18 after qualifier
  text """
  # 19 not a comment: inside a string
  """  # 20 after a long string
  rows = [ # 21 after [
    { a = 1, # 22 in a record in a list
      b = 2 }, # 23 after the record
  ]
  # 24 block dangling
}  # 25 after }
method full  # 26
# 27 end
#28 no space
#
'''


def test_every_comment_survives_a_tricky_file() -> None:
    out = _formatted(TRICKY)
    want = [
        "# 1 file header",
        "# 2 header trailing",
        "# 3 before import",
        "# 4 import trailing",
        "# 5 inside parentheses",
        "# 6 param trailing",
        "# 7 after (",
        "# 8 after an argument",
        "# 9 before a keyword",
        "# 10 before )",
        "# 11 after )",
        "# 12 after {",
        "# 13 leading",
        "# 14 trailing",
        "# 15 record opened",
        "# 16 in record",
        "# 17 record dangling",
        "# 18 after qualifier",
        "# 20 after a long string",
        "# 21 after [",
        "# 22 in a record in a list",
        "# 23 after the record",
        "# 24 block dangling",
        "# 25 after }",
        "# 26",
        "# 27 end",
        "#28 no space",
        "#",
    ]
    assert _comments(TRICKY) == sorted(want)
    assert _comments(out) == sorted(want)
    for text in want:
        assert text in out
    assert "  # 19 not a comment: inside a string\n" in out  # the string is untouched
    assert out.index("# 5 inside") < out.index("param p: int = 1 + 2  # 6")
    assert "  where a and b  # 14 trailing\n" in out
    assert "  } seed 7  # 18 after qualifier\n" in out
    assert "}  # 25 after }\nmethod full  # 26\n# 27 end\n#28 no space\n#\n" in out.replace("\n\n", "\n")
    assert _formatted(out) == out


def test_declaration_keywords_may_start_a_line_in_a_block() -> None:
    """`train` and `eval` are declaration keywords and split parts alike: a record too wide for
    one line puts them at the start of lines, and the result still reads back as the same recipe."""
    parts = "train = 90%, eval = 10%, a_long_name_to_make_it_wrap = 0%, another_long_name = 0%, more = 0%"
    source = f'data d = jsonl("d") {{\n  split {{ {parts} }} seed 7\n}}\n'
    assert max(len(line) for line in source.splitlines()) > WIDTH
    out = _formatted(source)
    assert re.search(r"^\s+train = 90%$", out, re.M) and re.search(r"^\s+eval = 10%$", out, re.M), out
    assert strip_spans(_tree(out)) == strip_spans(_tree(source))


# --- generated recipes ------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "lr", "rank", "x_1", "body", "house", "q_proj"])
LITERALS = st.sampled_from(
    [
        "1",
        "16",
        "2e-4",
        "2E-4",
        "1_000",
        "0.5",
        "10%",
        ".5%",
        "true",
        "false",
        '"s"',
        '"a # b"',
        '"esc \\" q"',
        '""',
        '"""\n    x\n      y\n  """',
        '"""one line"""',
    ]
)
OPS = st.sampled_from(["or", "and", "==", "!=", "<", ">=", "in", "+", "-", "*", "/"])


@st.composite
def comment(draw) -> str:
    return "# c" + str(draw(st.integers(0, 999))) + draw(st.sampled_from(["", " {x}", ' "q"', ' """']))


@st.composite
def gap(draw, bracketed: bool) -> str:
    """Whitespace between two tokens; inside brackets it may hold newlines and comments."""
    if not bracketed:
        return draw(st.sampled_from(["", " ", "   ", "\t"]))
    return draw(
        st.one_of(
            st.sampled_from(["", " ", "\n", "\n      ", "\n\n"]),
            comment().map(lambda c: f"  {c}\n    "),
            comment().map(lambda c: f"\n  {c}\n"),
        )
    )


@st.composite
def expr(draw, depth: int, bracketed: bool) -> str:
    choices = ["literal", "name"] + (["call", "list", "record", "binary", "unary", "parens"] if depth > 0 else [])
    kind = draw(st.sampled_from(choices))
    g = lambda: draw(gap(True))  # noqa: E731 - inside brackets
    if kind == "literal":
        return draw(LITERALS)
    if kind == "name":
        return ".".join(draw(st.lists(NAMES, min_size=1, max_size=2)))
    if kind == "parens":
        return "(" + g() + draw(expr(depth - 1, True)) + g() + ")"
    if kind == "binary":
        left = draw(expr(depth - 1, True))
        right = draw(expr(depth - 1, True))
        return f"({g()}{left}{g()}) {draw(OPS)} ({g()}{right}{g()})"
    if kind == "unary":
        return draw(st.sampled_from(["not ", "-", "- "])) + "(" + draw(expr(depth - 1, True)) + ")"
    if kind in ("call", "list"):
        items = draw(
            st.lists(
                st.one_of(
                    expr(depth - 1, True),
                    st.tuples(NAMES, expr(depth - 1, True)).map(lambda kv: f"{kv[0]} = {kv[1]}")
                    if kind == "call"
                    else expr(depth - 1, True),
                ),
                max_size=4,
            )
        )
        body = "".join(g() + item + g() + "," for item in items)
        if items and not draw(st.booleans()):
            body = body[:-1]
        return (draw(NAMES) + "(" if kind == "call" else "[") + body + g() + (")" if kind == "call" else "]")
    return draw(block(depth - 1, bracketed))


@st.composite
def entry(draw, depth: int, bracketed: bool, key_word: str | None = None) -> str:
    key = key_word or draw(NAMES)
    if draw(st.booleans()):
        if draw(st.booleans()):
            key += "." + draw(NAMES)
        return f"{key}{draw(gap(False))} ={draw(gap(False))} {draw(expr(depth, bracketed))}"
    text = f"{key} {draw(expr(depth, bracketed))}"
    for _ in range(draw(st.integers(0, 2))):
        text += f" {draw(NAMES)} {draw(expr(depth, bracketed))}"
    return text


@st.composite
def block(draw, depth: int, bracketed: bool) -> str:
    """`{ ... }`; keyword-led entries (`eval = 1`) follow `{` or `,` on the same line."""
    count = draw(st.integers(0, 4))
    text = "{"
    for i in range(count):
        keyword = draw(st.sampled_from([None, None, None, "train", "eval", "model"]))
        if i > 0:
            if bracketed or keyword:
                text += draw(st.sampled_from([",", ", "])) + (draw(gap(True)) if bracketed else "")
            else:
                text += draw(
                    st.one_of(
                        st.sampled_from([",", ", ", "\n  ", "\n\n  ", ",\n  "]),
                        comment().map(lambda c: f"  {c}\n  "),
                        comment().map(lambda c: f"\n  {c}\n  "),
                    )
                )
        elif not keyword:
            text += draw(st.sampled_from([" ", "\n  ", "", "  "]))
            if not bracketed and draw(st.booleans()):
                text += draw(comment()) + "\n  "
        else:
            text += " "
        text += draw(entry(depth, bracketed, keyword))
    if count and not bracketed and draw(st.booleans()):
        text += "  " + draw(comment()) + "\n"
    else:
        text += draw(st.sampled_from([" ", "\n", ",\n", "\n\n"]) if count else st.sampled_from(["", " ", "\n"]))
    if not bracketed and draw(st.booleans()):
        text += "  " + draw(comment()) + "\n"
    return text + "}"


@st.composite
def item(draw) -> str:
    kind = draw(
        st.sampled_from(["recipe", "import", "param", "model", "data", "prompt", "method", "train", "eval", "sweep"])
    )
    name = draw(NAMES)
    if kind == "recipe":
        return f"recipe {name}" + draw(st.sampled_from(["", ' "desc"']))
    if kind == "import":
        return f'import "{name}.ft"' + draw(st.sampled_from(["", ' sha256 "ab12"'])) + f" as {name}"
    if kind == "param":
        default = f" = {draw(expr(2, False))}" if draw(st.booleans()) else ""
        return f"param {name}:{draw(gap(False))}int{default}"
    body = f" {draw(block(2, False))}"
    if kind in ("model", "data"):
        g = lambda: draw(gap(True))  # noqa: E731
        src = draw(
            st.sampled_from(
                [f'jsonl({g()}"{name}.jsonl"{g()})', f'hf({g()}"{name}",{g()}revision = {draw(expr(1, True))}{g()})']
            )
        )
        return f"{kind} {name} = {src}" + (body if draw(st.booleans()) else "")
    if kind in ("prompt", "method"):
        ext = f" extends {name}.x" if draw(st.booleans()) else ""
        return f"{kind} {name}{ext}" + (body if kind == "prompt" or draw(st.booleans()) else "")
    if kind in ("train", "eval"):
        return kind + (" extends base" if draw(st.booleans()) else "") + body
    return "sweep" + body


@st.composite
def recipe_text(draw) -> str:
    text = draw(st.sampled_from(["", "\n", "# head\n", "# head\n\n"]))
    for _ in range(draw(st.integers(1, 5))):
        text += draw(item())
        if draw(st.booleans()):
            text += "  " + draw(comment())
        text += draw(st.sampled_from(["\n", "\n\n", "\n\n\n"]))
        if draw(st.booleans()):
            text += draw(comment()) + draw(st.sampled_from(["\n", "\n\n"]))
    return text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe_text())
def test_generated_recipes_format_equivalently_and_stably(source: str) -> None:
    recipe, diagnostics = parse(SourceFile("<gen>", source))
    assert recipe is not None, (source, [d.message for d in diagnostics])
    out = _formatted(source)  # format_source itself raises FormatterBug on any broken promise
    assert strip_spans(_tree(out)) == strip_spans(recipe)
    assert _comments(out) == _comments(source)
    assert _formatted(out) == out
    assert out.endswith("\n") and not out.endswith("\n\n")
    assert "\n\n\n" not in out
    assert not any(line != line.rstrip() for line in out.split("\n") if '"""' not in source)


def test_formatting_a_recipe_keeps_its_plan_hash():
    """`ft fmt` is safe to run on any recipe: the formatted text compiles to the very same plan."""
    from ftlang.compiler.api import check_text
    from ftlang.plan.canonical import plan_hash

    root = Path(__file__).resolve().parents[2] / "recipes"
    for path in sorted(root.glob("*.ft")):
        text = path.read_text()
        messy = "# a comment\n\n\n" + text.replace(" = ", "   =   ").replace("{\n", "{\n\n") + "\n\n# trailing\n"
        assert messy != text
        formatted = format_source(messy, str(path)).text
        assert formatted is not None
        before = check_text(text, str(path)).plan
        after = check_text(formatted, str(path)).plan
        assert before is not None and plan_hash(after) == plan_hash(before), path
