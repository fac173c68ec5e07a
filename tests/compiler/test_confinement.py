"""Confinement and redaction at check time (issue 15): secrets never reach a plan.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftlang.compiler.api import check_path
from ftlang.plan.canonical import load_plan, plan_json
from ftlang.plan.redact import MASK, SECRET_NAME
from tests.conftest import RECIPES


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    shutil.copytree(RECIPES / "data", tmp_path / "data")
    path = tmp_path / "r.ft"
    text = (RECIPES / "sft-tiny.ft").read_text()
    path.write_text(text.replace("param lr: float = 1e-2", 'param lr: float = 1e-2\nparam api_token: str = "x"'))
    return path


def test_a_secret_set_on_the_command_line_is_masked_in_plan_json(recipe: Path) -> None:
    secret = "s3cr3t-value-for-the-test"
    result = check_path(recipe, {"api_token": secret, "lr": "0.02"})
    assert result.ok and result.plan is not None, result.diagnostics
    text = plan_json(result.plan)
    assert secret not in text
    data = json.loads(text)
    assert data["params"]["api_token"] == MASK and data["params"]["lr"] == 0.02
    assert {o["name"]: o["value"] for o in data["overrides"]} == {"api_token": MASK, "lr": "0.02"}
    assert load_plan(text) == result.plan  # the masked record is what the hash pins


def test_secret_names() -> None:
    secret = ["HF_TOKEN", "OPENAI_KEY", "signing_key", "api_key", "DB_PASSWORD", "CLIENT_SECRET", "token"]
    plain = ["max_new_tokens", "tokenizer", "monkey", "keyword", "keep_best", "lr"]
    assert all(SECRET_NAME.search(name) for name in secret)
    assert not any(SECRET_NAME.search(name) for name in plain)


def _rendered(path: Path) -> tuple[list[str], str]:
    from ftlang.compiler.render import render_text

    result = check_path(path)
    return [d.code for d in result.diagnostics], render_text(result.diagnostics, result.sources)


def test_paths_outside_the_repository_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTLANG_ALLOW_PATHS", raising=False)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text("root:x:0:0:the first line\n")
    (outside / "lib.ft").write_text("root:x:0:0:the first line\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "link.csv").symlink_to(outside / "secret.csv")
    for source in (f'csv("{outside}/secret.csv")', 'csv("../elsewhere/secret.csv")', 'csv("link.csv")'):
        (repo / "r.ft").write_text(f"data d = {source}\n")
        codes, text = _rendered(repo / "r.ft")
        assert "E0620" in codes and "root:x" not in text, text
    (repo / "r.ft").write_text('import "../elsewhere/lib.ft" as lib\n')
    codes, text = _rendered(repo / "r.ft")
    assert "E0620" in codes and "root:x" not in text, text
    (repo / "r.ft").write_text(f'model base = local("{outside}")\n')
    assert "E0620" in _rendered(repo / "r.ft")[0]
    monkeypatch.setenv("FTLANG_ALLOW_PATHS", str(outside))
    (repo / "r.ft").write_text('import "../elsewhere/lib.ft" as lib\n')
    assert "E0620" not in _rendered(repo / "r.ft")[0]


def test_the_repository_is_the_git_work_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTLANG_ALLOW_PATHS", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a\n1\n")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.ft").write_text('data d = csv("../data/d.csv")\n')
    assert "E0620" not in _rendered(tmp_path / "recipes" / "r.ft")[0]


def test_the_work_tree_ft_runs_in_is_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTLANG_ALLOW_PATHS", raising=False)
    checkout, home = tmp_path / "checkout", tmp_path / "home"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "d.csv").write_text("a\n1\n")
    home.mkdir()
    (home / "r.ft").write_text(f'data d = csv("{checkout}/d.csv")\n')
    monkeypatch.chdir(checkout)
    assert "E0620" not in _rendered(home / "r.ft")[0]
    monkeypatch.chdir(home)  # a folder outside git allows nothing beyond the recipe's own
    assert "E0620" in _rendered(home / "r.ft")[0]
