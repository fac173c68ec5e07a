"""The bad-data corpus (tests/data/bad-data/): every fault in the rows `ft check` reads is a
located error naming its line, never a silent row or an error after the model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftlang.compiler.api import check_text

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad-data"
RECIPE = """
model base = scratch(llama)

data tickets = {kind}("{name}"){options}

prompt route {{
  input "{{{{ subject }}}}. {{{{ body }}}}"
  label "{{{{ team }}}}"
  labels = [account, billing, shipping, technical]
}}

method lora {{ rank = 8 }}

train {{ epochs = 1 }}
"""
EXPECTED = {
    "missing-field.jsonl": ("E0601", "line 50 ", "has no field `body`"),
    "null-field.jsonl": ("E0601", "line 50 ", "has null in field `body`"),
    "label-outside-labels.jsonl": ("E0603", "line 50 ", "`refunds`"),
    "object-in-text.jsonl": ("E0602", "line 50 ", "an object in `body`"),
    "list-in-text.jsonl": ("E0602", "line 50 ", "a list in `body`"),
    "number-in-text.jsonl": ("E0606", "line 50 ", "holds the number `42` in `body`, where line 1 holds text"),
    "lone-surrogate.jsonl": ("E0308", "line 50 ", "unpaired surrogate"),
    "nan.jsonl": ("E0308", "line 50 ", "`NaN`"),
    "infinity.jsonl": ("E0308", "line 50 ", "`Infinity`"),
    "duplicate-keys.jsonl": ("E0308", "line 50 ", "the key `body` twice"),
    "deep-nesting.jsonl": ("E0308", "line 50 ", "nested too deeply"),
    "huge-integer.jsonl": ("E0308", "line 50 ", "a number too long"),
    "invalid-json.jsonl": ("E0308", "line 50 ", "not valid JSON"),
    "not-an-object.jsonl": ("E0308", "line 50 ", "not a JSON object"),
    "bad-utf8.jsonl": ("E0308", "line 30 ", "not UTF-8"),
    "one-class.jsonl": ("E0604", "", "a classifier needs two classes"),
    "duplicate-header.csv": ("E0308", "", "names the column `body` twice"),
    "nul-byte.csv": ("E0308", "line 50 ", "NUL byte"),
    "bad-utf8.csv": ("E0308", "line 50 ", "not UTF-8"),
    "extra-field.csv": ("E0308", "line 50 ", "more columns than the header"),
}


def test_the_corpus_is_complete() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".jsonl", ".csv"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fault_is_a_located_error(name: str) -> None:
    code, line, words = EXPECTED[name]
    kind = "csv" if name.endswith(".csv") else "jsonl"
    result = check_text(RECIPE.format(kind=kind, name=name, options=""), str(CORPUS / "probe.ft"))
    found = [d for d in result.diagnostics if d.code == code]
    assert found, [(d.code, d.message) for d in result.diagnostics]
    d = found[0]
    assert d.span.file in result.sources and d.span.line >= 1
    said = d.message + " ".join(d.notes)
    assert line in said and words in said, said
    assert not result.ok


def _check_rows(tmp_path: Path, rows: list[str], template: str) -> list[tuple[str, str]]:
    (tmp_path / "d.jsonl").write_text("".join(line + "\n" for line in rows))
    recipe = RECIPE.format(kind="jsonl", name="d.jsonl", options="").replace(
        'input "{{ subject }}. {{ body }}"', f"input {json.dumps(template)}"
    )
    result = check_text(recipe, str(tmp_path / "r.ft"))
    return [(d.code, d.message) for d in result.diagnostics if d.code.startswith("E060")]


@pytest.mark.parametrize(
    "template,body,found",
    [
        ("{{ body }}", '{"text": "hi"}', "E0602"),
        ("{{ body | trim }}", '["hi"]', "E0602"),
        ("{{ body.text }}", '{"text": "hi"}', None),  # read in parts
        ("{% for b in body %}{{ b }}{% endfor %}", '["hi", "yo"]', None),  # looped over
        ("{{ body | join(' ') }}", '["hi", "yo"]', None),
    ],
)
def test_only_a_field_printed_as_it_is_must_hold_text(tmp_path: Path, template: str, body: str, found: str | None):
    rows = [f'{{"subject": "s", "body": {body}, "team": "{team}"}}' for team in ("billing", "shipping")]
    assert [code for code, _ in _check_rows(tmp_path, rows, template)] == ([found] if found else [])


@pytest.mark.parametrize(
    "bodies,said",
    [
        (['"a"', '"b"', "42"], "line 3 of `d.jsonl` holds the number `42` in `body`, where line 1 holds text"),
        (["7", '"b"'], "line 2 of `d.jsonl` holds text in `body`, where line 1 holds the number `7`"),
        (['"a"', "true"], "line 2 of `d.jsonl` holds `true` in `body`, where line 1 holds text"),
        (["1", "2.5", "3"], None),  # numbers in every row: printed as Python writes them
        (['"a"', '"b"', '"c"'], None),
    ],
)
def test_a_printed_field_keeps_one_kind(tmp_path: Path, bodies: list[str], said: str | None) -> None:
    teams = ("billing", "shipping") * len(bodies)  # two classes, so E0604 has nothing to say
    rows = [f'{{"subject": "s", "body": {b}, "team": "{team}"}}' for b, team in zip(bodies, teams)]
    assert _check_rows(tmp_path, rows, "{{ body }}") == ([("E0606", said)] if said else [])


@pytest.mark.parametrize("name", ["missing-field.jsonl", "object-in-text.jsonl", "number-in-text.jsonl"])
def test_with_bad_rows_skip_a_row_fault_is_the_declared_policy(name: str) -> None:
    """`ft run` skips such a row and counts it in its report: `ft check` has nothing to stop."""
    recipe = RECIPE.format(kind="jsonl", name=name, options=" { bad_rows = skip }")
    result = check_text(recipe, str(CORPUS / "probe.ft"))
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
