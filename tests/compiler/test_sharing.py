"""Imports, extends, typed overrides, pins, the lock, `ft diff` and sweeps."""

import os
import shutil
import subprocess
import sys

import pytest

from ftlang.compiler.api import check_path, sweep_variants
from ftlang.compiler.render import render_text, summary_line
from ftlang.plan.canonical import plan_hash
from tests.conftest import RECIPES, REPO

CASES = REPO / "tests" / "data" / "sharing"
# Extra command-line values a case is checked with.
SETS = {"set-wrong-type": {"train.batch": "two", "method.rank": "-1"}}
GOLDEN = sorted(p.stem for p in CASES.glob("*.ft") if p.stem != "ok")


def _rendered(name: str) -> str:
    cwd = os.getcwd()
    os.chdir(CASES)  # paths in the output are shown relative to the case folder
    try:
        result = check_path(f"{name}.ft", SETS.get(name))
        return (
            render_text(result.diagnostics, result.sources)
            + "\n"
            + summary_line(result.diagnostics, f"{name}.ft")
            + "\n"
        )
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_sharing_diagnostics(name):
    expected = CASES / f"{name}.out"
    text = _rendered(name)
    if os.environ.get("FT_REGEN"):
        expected.write_text(text)
    assert text == expected.read_text()


def test_golden_cases_cover_the_acceptance_list():
    codes = {name: (CASES / f"{name}.out").read_text() for name in GOLDEN}
    assert "error[E0401]" in codes["missing-import"] and "missing-import.ft:1:8" in codes["missing-import"]
    assert "error[E0402]" in codes["import-cycle"] and "lib/cycle-b.ft:1:8" in codes["import-cycle"]
    assert "error[E0102]" in codes["override-unknown-field"] and ":13:3" in codes["override-unknown-field"]
    wrong = codes["override-wrong-type"]
    assert "override-wrong-type.ft:13:10" in wrong and "::: lib/base.ft:3" in wrong
    assert "--> <command line>:1:19" in codes["set-wrong-type"]
    assert "error[E0404]" in codes["hash-mismatch"] and "hash-mismatch.ft:1:29" in codes["hash-mismatch"]


def test_a_good_import_builds_the_merged_plan():
    plan = check_path(CASES / "ok.ft").plan
    assert plan.method.rank == 8 and plan.method.alpha == 16
    assert plan.train.lr == 1e-3 and plan.train.batch == 2
    assert [s.path for s in plan.sources] == ["ok.ft", "lib/base.ft"]


def test_overrides_replace_base_values():
    plan = check_path(RECIPES / "router-shared.ft").plan
    assert plan.method.rank == 8 and plan.method.targets == ["query", "value"]
    assert plan.train.epochs == 3 and plan.train.lr == 2e-3 and plan.train.schedule.kind == "linear"
    assert plan.eval.require[0].metric == "accuracy" and plan.eval.compare_base


def test_command_line_wins_over_file_and_import():
    plan = check_path(RECIPES / "router-shared.ft", {"method.rank": "4", "train.lr": "1e-4"}).plan
    assert plan.method.rank == 4 and plan.train.lr == 1e-4


@pytest.fixture
def recipes_copy(tmp_path):
    target = tmp_path / "recipes"
    shutil.copytree(RECIPES, target, ignore=shutil.ignore_patterns("*.lock"))
    return target


def test_a_library_change_changes_every_importer_and_diff_names_the_field(recipes_copy):
    importers = ["router-shared.ft", "sft-shared.ft"]
    before = {name: check_path(recipes_copy / name) for name in importers}
    old = recipes_copy.parent / "old"
    shutil.copytree(recipes_copy, old)
    lora = recipes_copy / "lib" / "lora.ft"
    lora.write_text(lora.read_text().replace("dropout = 0.05", "dropout = 0.1"))
    for name in importers:
        after = check_path(recipes_copy / name)
        assert plan_hash(after.plan) != plan_hash(before[name].plan)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftlang.cli.main",
            "diff",
            str(old / "router-shared.ft"),
            str(recipes_copy / "router-shared.ft"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    changed = [line for line in out.stdout.splitlines() if line.startswith(("~", "+", "-"))]
    assert changed == ["~ method.dropout  0.05 → 0.1   (lib/lora.ft:6)"]
    assert "file lib/lora.ft: changed" in out.stdout


def test_lock_pins_imports_and_reformatting_keeps_the_pin(recipes_copy):
    recipe = recipes_copy / "router-shared.ft"
    subprocess.run([sys.executable, "-m", "ftlang.cli.main", "lock", str(recipe)], check=True, capture_output=True)
    assert check_path(recipe).ok
    lora = recipes_copy / "lib" / "lora.ft"
    lora.write_text("# a new comment\n" + lora.read_text().replace("rank = 8", "rank   =   8"))
    assert check_path(recipe).ok  # comments and layout are not part of the hash
    lora.write_text(lora.read_text().replace("rank   =   8", "rank = 9"))
    result = check_path(recipe)
    assert [d.code for d in result.diagnostics] == ["E0404"]
    assert result.diagnostics[0].span.line == 3  # the import line of lib/lora.ft


def test_sweep_expands_to_a_grid_of_distinct_plans():
    base, variants = sweep_variants(RECIPES / "sft-sweep.ft")
    assert base.ok and len(variants) == 4
    assert all(v.ok for _, v in variants)
    assert len({plan_hash(v.plan) for _, v in variants}) == 4
    assert {(v.plan.train.lr, v.plan.method.rank) for _, v in variants} == {(3e-3, 4), (3e-3, 8), (1e-2, 4), (1e-2, 8)}


def test_library_files_check_on_their_own():
    for path in sorted((RECIPES / "lib").glob("*.ft")):
        result = check_path(path)
        assert result.ok and result.is_library, path
