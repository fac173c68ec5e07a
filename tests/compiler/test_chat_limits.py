"""A recipe's own chat template at check time: compiled and rendered in the chat sandbox, so a
template past a limit is E0600 at the template, fast, and Hugging Face's helpers are accepted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ftlang.compiler.api import check_path

CONVERSATIONS = [
    [{"role": "user", "content": "Reverse the word: fire"}, {"role": "assistant", "content": "erif"}],
    [{"role": "user", "content": "Uppercase: sun"}, {"role": "assistant", "content": "SUN"}],
]


def _check(folder: Path, template: str) -> list[tuple[str, int, str]]:
    (folder / "chats.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVERSATIONS))
    (folder / "r.ft").write_text(
        'model base = scratch(llama)\ndata chats = jsonl("chats.jsonl")\n'
        f"prompt agent {{\n  messages = messages\n  template = {json.dumps(template)}\n}}\n"
        "method full\ntrain { epochs = 1 }\n",
        encoding="utf-8",
    )
    result = check_path(folder / "r.ft")
    return [(d.code, d.span.line, d.message) for d in result.diagnostics if d.severity == "error"]


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**9 }}{% for m in messages %}{{ m.content }}{% endfor %}",
        "{% for m in messages %}{% for i in range(999999) %}{% for j in range(999999) %}{% endfor %}{% endfor %}"
        "{{ m.content }}{% endfor %}",
        "{% for m in messages %}{{ m.content }}{% endfor %}{{ 9 ** 999999 }}",
    ],
)
def test_a_custom_chat_template_past_a_limit_is_located(tmp_path: Path, template: str) -> None:
    start = time.monotonic()
    errors = _check(tmp_path, template)
    assert time.monotonic() - start < 10
    assert errors == [("E0600", 5, "the chat template goes past a limit of the template sandbox")]


def test_the_datas_conversations_are_laid_out_too(tmp_path: Path) -> None:
    # Within the limits on the sample conversation; past them on the data's first row.
    template = (
        "{% for m in messages %}{% if 'fire' in m.content %}{{ 'x' * 10**7 }}{% endif %}{{ m.content }}{% endfor %}"
    )
    assert _check(tmp_path, template) == [("E0600", 5, "the chat template goes past a limit of the template sandbox")]


def test_the_helpers_of_hugging_face_templates_pass_the_check(tmp_path: Path) -> None:
    template = (
        "{% set ns = namespace(n=0) %}{% for m in messages %}"
        "{% if m.role not in ['system', 'user', 'assistant'] %}{{ raise_exception('unknown role') }}{% endif %}"
        "{% if loop.index > 10 %}{% break %}{% endif %}{% set ns.n = ns.n + 1 %}"
        "{{ m.role }}: {% generation %}{{ m.content }}{% endgeneration %}{{ eos_token }}{% endfor %}"
        "{{ {'turns': ns.n}|tojson }}"
    )
    assert _check(tmp_path, template) == []


def _check_model(folder: Path, shipped: object, template: str = "") -> list[tuple[str, int, str, tuple[str, ...]]]:
    (folder / "chats.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVERSATIONS))
    (folder / "m").mkdir()
    (folder / "m" / "tokenizer_config.json").write_text(json.dumps({"chat_template": shipped}))
    (folder / "r.ft").write_text(
        'model base = local("m")\ndata chats = jsonl("chats.jsonl")\n'
        f"prompt agent {{\n  messages = messages\n{template}}}\nmethod full\ntrain {{ epochs = 1 }}\n",
        encoding="utf-8",
    )
    result = check_path(folder / "r.ft")
    return [(d.code, d.span.line, d.message, d.notes) for d in result.diagnostics if d.code == "E0600"]


BOMB = "{% for m in messages %}{{ m.content }}{% endfor %}{{ 'a' * 10**9 }}"


def test_a_local_models_own_chat_template_past_a_limit_is_located(tmp_path: Path) -> None:
    message = "the model's own chat template goes past a limit of the template sandbox"
    assert _check_model(tmp_path, BOMB) == [("E0600", 1, message, ("read from m/tokenizer_config.json",))]


def test_a_named_default_template_is_the_one_laid_out(tmp_path: Path) -> None:
    shipped = [{"name": "tool_use", "template": "{{ messages }}"}, {"name": "default", "template": BOMB}]
    assert [line for _, line, _, _ in _check_model(tmp_path, shipped, "  template = tokenizer\n")] == [5]


def test_a_models_template_is_not_laid_out_when_the_recipe_names_another(tmp_path: Path) -> None:
    assert _check_model(tmp_path, BOMB, "  template = chatml\n") == []
