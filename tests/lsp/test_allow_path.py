"""The language server checks with the confinement of `ft check`, and takes allowances as `ft check`
does: `ft lsp --allow-path DIR`, or the editor's `initializationOptions.allowPaths`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .test_server import Editor, _open

RECIPE = 'data d = csv("../elsewhere/d.csv")\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "d.csv").write_text("a\n1\n")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "r.ft").write_text(RECIPE)
    return tmp_path / "repo"


def _codes(repo: Path, *options: str, init: dict[str, Any] | None = None) -> list[str]:
    editor = Editor(repo, *options)
    try:
        params = {"processId": None, "rootUri": repo.as_uri(), "capabilities": {}}
        editor.request("initialize", {**params, **({"initializationOptions": init} if init else {})})
        editor.notify("initialized", {})
        return [d["code"] for d in editor.diagnostics(_open(editor, repo / "r.ft"))]
    finally:
        editor.close()


def test_a_path_outside_the_repository_is_refused_by_default(repo: Path) -> None:
    assert "E0620" in _codes(repo)


def test_allow_path_on_the_command_line(repo: Path) -> None:
    assert "E0620" not in _codes(repo, "--allow-path", str(repo.parent / "elsewhere"))


def test_allow_paths_from_the_editors_initialization_options(repo: Path) -> None:
    assert "E0620" not in _codes(repo, init={"allowPaths": ["../elsewhere"]})
    assert "E0620" in _codes(repo, init={"allowPaths": ["../other"]})
