"""Every diagnostic code is explained, documented, and produced by a golden test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ftlang.cli.main import main as ft_main
from ftlang.compiler.codes import CODES, explain

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "compiler").glob("*.py"))
DOC = ROOT / "docs" / "errors.md"
GOLDEN = sorted((ROOT / "tests" / "data" / "diagnostics").glob("*.ft"))
MARKER = "# --- expected ---\n"
_CODE = re.compile(r"""["']([EW]\d{4})["']""")


def used_codes() -> dict[str, list[str]]:
    """Each code written as a string literal in the compiler, with the modules using it."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        if path.name == "codes.py":
            continue
        for code in _CODE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(path.name)
    return found


def golden_outputs() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8").partition(MARKER)[2] for p in GOLDEN}


def doc_sections() -> dict[str, str]:
    """`## E0102 — unknown field` headings of docs/errors.md and the text under each."""
    parts = re.split(r"^## ([EW]\d{4}) ", DOC.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_the_compiler_uses_codes() -> None:
    assert len(used_codes()) >= 25


@pytest.mark.parametrize("code", sorted(used_codes()))
def test_every_code_used_is_defined(code: str) -> None:
    assert code in CODES, f"{code} (used in {', '.join(used_codes()[code])}) is missing from codes.py"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_defined_code_is_used(code: str) -> None:
    assert code in used_codes(), f"{code} is in codes.py, but nothing in compiler/ reports it"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_a_golden_case(code: str) -> None:
    severity = "warning" if code.startswith("W") else "error"
    producing = [name for name, output in golden_outputs().items() if f"{severity}[{code}]:" in output]
    assert producing, f"no case in tests/data/diagnostics/ produces {code}"


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_works_for_every_code(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert ft_main(["explain", code]) == 0
    out = capsys.readouterr().out
    entry = CODES[code]
    assert out == explain(code)
    assert out.startswith(f"{code}: {entry.title}\n") and entry.explanation in out
    assert entry.title and entry.title[0].islower() and not entry.title.endswith(".")
    assert entry.explanation.endswith(".") and entry.example and entry.fix
    assert explain(code.lower()) == out  # `ft explain e0102` works too


def test_explain_rejects_an_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert ft_main(["explain", "E9999"]) == 2
    assert "unknown code `E9999`" in capsys.readouterr().err


def test_the_doc_lists_exactly_the_codes() -> None:
    assert list(doc_sections()) == sorted(CODES), "docs/errors.md: one `## CODE title` section per code, in order"


@pytest.mark.parametrize("code", sorted(CODES))
def test_the_doc_explains_each_code(code: str) -> None:
    section = doc_sections().get(code, "")
    assert section.startswith(f"— {CODES[code].title}\n"), f"docs/errors.md: `## {code} — {CODES[code].title}`"
    for heading in ("**Mistake**", "**What `ft check` says**", "**Fix**"):
        assert heading in section, f"docs/errors.md, {code}: no {heading}"


@pytest.mark.parametrize("code", sorted(CODES))
def test_the_doc_shows_real_output(code: str) -> None:
    """The rendered diagnostic in the doc is what a golden case really prints (paths shortened)."""
    section = doc_sections().get(code, "")
    block = re.search(r"\*\*What `ft check` says\*\*:\n\n```text\n(.*?)```", section, re.S)
    assert block, f"docs/errors.md, {code}: no ```text block with the rendered diagnostic"
    shown = block.group(1)
    assert shown.startswith(f"{'warning' if code.startswith('W') else 'error'}[{code}]: ")
    outputs = [o.replace("tests/data/diagnostics/", "") for o in golden_outputs().values()]
    assert any(shown in output for output in outputs), (
        f"docs/errors.md, {code}: the rendered diagnostic is not what any golden case prints"
    )
