"""`ft check` and `ft run` refuse the same conversation: the golden case whose model template allows no
system turn is E0345 at row 2 of its data, and the runtime lays row 1 out and stops at row 2 with a
RunError, through the real tokenizer the template is set on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftlang.compiler.api import check_text
from ftlang.runtime.data.prompts import Renderer, tokenize
from ftlang.runtime.data.sources import Row
from ftlang.runtime.errors import RunError

from .test_chat_templates import _with_template
from .test_conversations import prompt, tok  # noqa: F401 (tok: the fixture)

ROOT = Path(__file__).resolve().parents[2]
CASE = "tests/data/diagnostics/chat-model-template-refuses-data.ft"
DATA = ROOT / "tests" / "data" / "diagnostics" / "data"


def test_check_and_run_refuse_the_same_row(tok, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.chdir(ROOT)
    recipe = (ROOT / CASE).read_text(encoding="utf-8").partition("# --- expected ---\n")[0]
    [found] = [d for d in check_text(recipe, CASE).diagnostics if d.severity == "error"]
    assert (found.code, found.message) == ("E0345", "the model's own chat template refuses row 2 of `chats`")

    config = json.loads((DATA / "no-system-chat" / "tokenizer_config.json").read_text(encoding="utf-8"))
    templated = _with_template(tok, config["chat_template"])
    lines = (DATA / "chats.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [Row(json.loads(line), f"chats.jsonl:{number}") for number, line in enumerate(lines[:2], start=1)]
    renderer = Renderer(prompt())
    assert tokenize([renderer.render(rows[0])], templated, "chat", 512)[0]
    with pytest.raises(RunError, match="System role not supported") as refused:
        tokenize([renderer.render(rows[1])], templated, "chat", 512)
    assert refused.value.location == "chats.jsonl:2"
