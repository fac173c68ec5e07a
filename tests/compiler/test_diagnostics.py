"""Golden diagnostics: each tests/data/diagnostics/*.ft is a bad recipe and exactly what `ft check` says.

A case file holds the recipe, a marker line `# --- expected ---`, then the plain-text output of
`ft check tests/data/diagnostics/NAME.ft` run from the repository root: every diagnostic, the
summary line. Comment lines at the top of the recipe may set how it is checked:

    # golden: --set NAME=VALUE     check with this override (repeatable)
    # golden: latin-1              write the recipe in Latin-1, so reading it fails (E0005)
    # golden: without DIST         check as if the distribution DIST were not installed

`FT_REGEN=1 pytest tests/compiler/test_diagnostics.py` rewrites the expected parts; read the
diff before committing it: each output must be a good, precise diagnostic.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pytest

from ftlang.cli.main import main as ft_main
from ftlang.compiler.api import CheckResult, check_path, check_text
from ftlang.compiler.render import render_text, summary_line

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "data" / "diagnostics"
CASES = sorted(CASES_DIR.glob("*.ft"))
MARKER = "# --- expected ---\n"
_DIRECTIVE = re.compile(r"^# golden: (.*)$", re.M)


def split_case(text: str) -> tuple[str, str]:
    recipe, marker, expected = text.partition(MARKER)
    assert marker, "a case needs a line `# --- expected ---` after its recipe"
    return recipe, expected


def ft_check_output(result: CheckResult, shown_path: str) -> str:
    """What `ft check` writes to stderr for one file (see cli/commands.py: print_diagnostics)."""
    out = ""
    if result.diagnostics:
        out += render_text(result.diagnostics, result.sources) + "\n"
        out += summary_line(result.diagnostics, shown_path) + "\n"
    if result.ok:
        out += f"{shown_path}: ok\n"
    return out


def run_case(case: Path, tmp_path: Path) -> tuple[CheckResult, str]:
    recipe, _ = split_case(case.read_text(encoding="utf-8"))
    options = _DIRECTIVE.findall(recipe.split("\n\n", 1)[0])
    overrides = dict(o.removeprefix("--set ").split("=", 1) for o in options if o.startswith("--set "))
    shown = case.relative_to(ROOT).as_posix()
    hidden = {o.removeprefix("without ") for o in options if o.startswith("without ")}
    with _without_distributions(hidden):
        result = _check_case(recipe, shown, overrides, "latin-1" in options, tmp_path)
    return result, ft_check_output(result, shown)


@contextmanager
def _without_distributions(names: set[str]) -> Iterator[None]:
    """importlib.metadata answers as if these distributions were not installed (an extra left out)."""
    real = metadata.distribution

    def distribution(name: str) -> metadata.Distribution:
        if name in names:
            raise metadata.PackageNotFoundError(name)
        return real(name)

    metadata.distribution = distribution  # type: ignore[assignment]
    try:
        yield
    finally:
        metadata.distribution = real


def _check_case(recipe: str, shown: str, overrides: dict[str, str], latin_1: bool, tmp_path: Path) -> CheckResult:
    if latin_1:
        # A recipe that cannot be decoded is checked from a copy of the same relative path.
        copy = tmp_path / shown
        copy.parent.mkdir(parents=True)
        copy.write_bytes(recipe.encode("latin-1"))
        os.chdir(tmp_path)
        return check_path(shown, overrides)
    # Checked as the file itself from the repository root, so data paths in the recipe
    # resolve against tests/data/diagnostics/ and the output names the file as a user would.
    return check_text(recipe, shown, overrides)


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 45


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_diagnostic(case: Path, tmp_path: Path, at_root: None) -> None:
    result, output = run_case(case, tmp_path)
    recipe, expected = split_case(case.read_text(encoding="utf-8"))
    if os.environ.get("FT_REGEN"):
        case.write_text(recipe + MARKER + output, encoding="utf-8")
        expected = output
    assert output == expected
    # Every case is a mistake: it fails with at least one located error, never a traceback.
    assert result.diagnostics and "Traceback" not in output
    for d in result.diagnostics:
        assert d.message and not d.message[0].isupper() and not d.message.endswith("."), d.message
        if d.span.file in result.sources:
            assert f"--> {d.span.file}:{d.span.line}:{d.span.col}\n" in output
            assert f"{d.span.line} | " in output and ("^" in output)


def test_cli_prints_what_the_golden_files_say(
    tmp_path: Path, at_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The golden outputs are what the `ft check` command itself writes, exit code 1."""
    for name in ("parse-errors-in-two-items", "set-unknown-parameter", "trust-remote-code-warning"):
        case = CASES_DIR / f"{name}.ft"
        recipe, expected = split_case(case.read_text(encoding="utf-8"))
        options = _DIRECTIVE.findall(recipe)
        # The CLI needs a file: a copy at the same relative path, with the data beside it.
        copy = tmp_path / case.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(recipe, encoding="utf-8")
        shutil.copytree(CASES_DIR / "data", copy.parent / "data", dirs_exist_ok=True)
        os.chdir(tmp_path)
        args = [a for o in options for a in o.split(" ", 1)]
        code = ft_main(["check", case.relative_to(ROOT).as_posix(), *args])
        captured = capsys.readouterr()
        assert captured.err == expected, name
        assert code == (0 if expected.endswith(": ok\n") else 1)
