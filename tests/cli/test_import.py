"""`ft import`: each config of tests/data/import/ becomes the recipe and the key table beside it (golden).

A config's name says its tool (`axolotl-…`, `llamafactory-…`, `trl-…`) and, for TRL, the trainer
(`trl-dpo-…`). Beside it: NAME.ft, the recipe, and NAME.table.txt, the table of every key.
`FT_REGEN=1` rewrites both; review the diff. The recipes are checked where they stand, so their
data paths resolve against tests/data/import/data/; hub data sets not in the cache are the only
errors allowed (data files permitting).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ftlang.compiler.api import check_path
from ftlang.compiler.format import format_source
from tests.conftest import REPO

CASES_DIR = REPO / "tests" / "data" / "import"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.suffix in (".yml", ".yaml"))
_NOT_IN_CACHE = "E0321"  # a hub data set this machine has never downloaded


def run_import(case: Path, output: Path, *options: str) -> subprocess.CompletedProcess:
    tool, _, rest = case.stem.partition("-")
    trainer = ["--trainer", rest.split("-")[0]] if tool == "trl" else []
    return subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", "import", tool, case.name, "-o", str(output), *trainer, *options],
        cwd=CASES_DIR,
        capture_output=True,
        text=True,
        env={"NO_COLOR": "1", "PATH": ""},
    )


def test_there_is_a_case_for_each_tool() -> None:
    assert {c.stem.split("-")[0] for c in CASES} == {"axolotl", "llamafactory", "trl"}


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_import_writes_the_golden_recipe_and_key_table(case: Path, tmp_path: Path) -> None:
    result = run_import(case, tmp_path / "recipe.ft")
    assert result.returncode == 0, result.stderr
    recipe, table = (tmp_path / "recipe.ft").read_text(encoding="utf-8"), result.stdout
    golden_recipe, golden_table = case.with_suffix(".ft"), case.with_suffix(".table.txt")
    if os.environ.get("FT_REGEN"):
        golden_recipe.write_text(recipe, encoding="utf-8")
        golden_table.write_text(table, encoding="utf-8")
    assert recipe == golden_recipe.read_text(encoding="utf-8")
    assert table == golden_table.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_every_key_is_in_the_table_and_every_unsupported_one_in_the_recipe(case: Path, tmp_path: Path) -> None:
    result = run_import(case, tmp_path / "recipe.ft", "--format", "json")
    rows = json.loads(result.stdout)["keys"]
    recipe = (tmp_path / "recipe.ft").read_text(encoding="utf-8")
    config = yaml.safe_load(case.read_text(encoding="utf-8"))
    keys = {row["key"].split(".")[0].split(" ")[0] for row in rows}
    for key, value in config.items():
        expected = {f"datasets[{i}]" for i in range(len(value))} if key == "datasets" else {key}
        assert expected <= keys, f"{key} is missing from the table"
    for row in rows:
        assert row["status"] in ("mapped", "mapped differently", "not supported") and row["detail"], row
        if row["status"] == "not supported":
            assert f"#   {row['key']}:" in recipe, f"{row['key']} is not supported but not a comment in the recipe"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_the_recipe_is_canonical_and_checks_where_its_data_is_here(case: Path) -> None:
    path = case.with_suffix(".ft")
    text = path.read_text(encoding="utf-8")
    assert format_source(text, str(path)).text == text
    result = check_path(path)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert all(d.code == _NOT_IN_CACHE for d in errors), [f"{d.code} {d.message}" for d in errors]
    if not errors:
        assert result.ok and result.plan is not None


def test_a_config_that_is_not_yaml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("base_model: [unclosed\n")
    result = subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", "import", "axolotl", str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "is not valid YAML" in result.stderr and "Traceback" not in result.stderr
    no_model = tmp_path / "no-model.yml"
    no_model.write_text("datasets:\n  - path: data.jsonl\n    type: alpaca\n")
    result = subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", "import", "axolotl", str(no_model)], capture_output=True, text=True
    )
    assert result.returncode == 1 and "names no base model" in result.stderr


def test_the_ecosystem_doc_shows_a_golden_case_as_it_is() -> None:
    doc = (REPO / "docs" / "ecosystem.md").read_text(encoding="utf-8")
    case = CASES_DIR / "llamafactory-llama3-lora-sft"
    for suffix in (".yaml", ".ft", ".table.txt"):
        assert case.with_suffix(suffix).read_text(encoding="utf-8").rstrip() in doc, suffix
