"""Chat templates laid over the data's conversations at check time: a hub model's cached template like a
local folder's, a model template that does not parse (E0344), and a template, the model's or the recipe's,
that refuses a conversation the data holds with `raise_exception` (E0345)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftlang.compiler.api import check_path
from ftlang.compiler.diagnostics import Diagnostic

COMMIT = "0123456789abcdef0123456789abcdef01234567"
NO_SYSTEM = (
    "{% for m in messages %}\n"
    "{% if m.role == 'system' %}\n"
    "{{ raise_exception('System role not supported') }}\n"
    "{% endif %}\n"
    "{{ m.role }}: {{ m.content }}\n"
    "{% endfor %}"
)
BOMB = "{% for m in messages %}{{ m.content }}{% endfor %}{{ 'a' * 10**9 }}"


def _turns(*roles: str) -> list[dict[str, str]]:
    return [{"role": role, "content": f"a {role} turn"} for role in roles]


PLAIN = _turns("user", "assistant")
WITH_SYSTEM = _turns("system", "user", "assistant")


def _check(folder: Path, model: str, conversations: list[list[dict[str, str]]], prompt: str = "") -> list[Diagnostic]:
    rows = [{"messages": c} for c in conversations] or [{"question": "2 + 2?", "answer": "4"}]
    (folder / "chats.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "r.ft").write_text(
        f'model base = {model}\ndata chats = jsonl("chats.jsonl")\n'
        f"prompt agent {{\n{prompt or '  messages = messages'}\n}}\nmethod full\ntrain {{ epochs = 1 }}\n",
        encoding="utf-8",
    )
    return [d for d in check_path(folder / "r.ft").diagnostics if d.severity == "error"]


def _local_model(folder: Path, files: dict[str, str]) -> str:
    (folder / "m").mkdir()
    (folder / "m" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    for name, text in files.items():
        (folder / "m" / name).write_text(text)
    return 'local("m")'


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A hub cache laid out as huggingface_hub leaves it, holding `acme/chat` at one commit."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--chat" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (cache / "models--acme--chat" / "refs").mkdir()
    (cache / "models--acme--chat" / "refs" / "main").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return snapshot


def test_a_cached_hub_models_template_past_a_limit_is_located(tmp_path: Path, hub: Path) -> None:
    (hub / "tokenizer_config.json").write_text(json.dumps({"chat_template": BOMB}))
    for model in ('hf("acme/chat")', 'hf("acme/chat", revision = "main")', f'hf("acme/chat", revision = "{COMMIT}")'):
        [found] = _check(tmp_path, model, [PLAIN])
        assert (found.code, found.primary.span.line) == ("E0600", 1)
        assert found.notes == ("read from tokenizer_config.json of the cached `acme/chat`",)


def test_a_revision_the_cache_does_not_hold_is_not_laid_out(tmp_path: Path, hub: Path) -> None:
    (hub / "tokenizer_config.json").write_text(json.dumps({"chat_template": BOMB}))
    assert _check(tmp_path, 'hf("acme/chat", revision = "v2")', [PLAIN]) == []
    assert _check(tmp_path, 'hf("acme/chat", revision = "..")', [PLAIN]) == []


def test_a_models_template_that_does_not_parse_names_its_file_and_line(tmp_path: Path, hub: Path) -> None:
    (hub / "chat_template.jinja").write_text("{% for m in messages %}\n{{ m.content }\n{% endfor %}")
    [found] = _check(tmp_path, 'hf("acme/chat")', [PLAIN])
    assert (found.code, found.primary.span.line, found.primary.span.col) == ("E0344", 1, 14)
    assert found.notes[0].startswith("line 2 of the chat template in chat_template.jinja of the cached `acme/chat`: ")


def test_a_models_template_refusing_a_role_the_data_holds_is_located(tmp_path: Path) -> None:
    model = _local_model(tmp_path, {"tokenizer_config.json": json.dumps({"chat_template": NO_SYSTEM})})
    # The system turn first comes in row 5: past the first rows, but a sequence of roles not seen before.
    [found] = _check(tmp_path, model, [PLAIN] * 4 + [WITH_SYSTEM])
    assert (found.code, found.primary.span.line) == ("E0345", 1)
    assert found.message == "the model's own chat template refuses row 5 of `chats`"
    assert found.primary.text == "its template raises: System role not supported"
    assert found.notes == ("raised at line 3 of the chat template in m/tokenizer_config.json",)


def test_a_refusing_template_passes_when_the_data_never_hits_it(tmp_path: Path) -> None:
    model = _local_model(tmp_path, {"chat_template.jinja": NO_SYSTEM})
    assert _check(tmp_path, model, [PLAIN] * 3) == []


def test_the_prompts_own_turns_open_each_conversation(tmp_path: Path) -> None:
    model = _local_model(tmp_path, {"chat_template.jinja": NO_SYSTEM})
    [found] = _check(tmp_path, model, [PLAIN], '  system "Be brief."\n  messages = messages')
    assert found.message == "the model's own chat template refuses row 1 of `chats`"


def test_a_prompt_that_writes_its_turns_is_laid_out_as_written(tmp_path: Path) -> None:
    model = _local_model(tmp_path, {"chat_template.jinja": NO_SYSTEM})
    prompt = '  system "Be brief."\n  user "{{ question }}"\n  assistant "{{ answer }}"'
    errors = _check(tmp_path, model, [], prompt)
    assert [(d.code, d.message) for d in errors] == [
        ("E0345", "the model's own chat template refuses the prompt's turns")
    ]


def test_a_recipes_template_refusing_the_data_is_located_at_its_line(tmp_path: Path) -> None:
    template = '  messages = messages\n  template = """\n' + NO_SYSTEM + '\n"""'
    [found] = _check(tmp_path, "scratch(llama)", [PLAIN, WITH_SYSTEM], template)
    assert (found.code, found.primary.span.line, found.message) == (
        "E0345",
        8,
        "the chat template refuses row 2 of `chats`",
    )
    assert found.primary.text == "raises: System role not supported"


def test_a_recipes_template_with_a_syntax_error_is_located_at_its_line(tmp_path: Path) -> None:
    template = '  messages = messages\n  template = """\n{% for m in messages %}\n{{ m.content }\n{% endfor %}\n"""'
    [found] = _check(tmp_path, "scratch(llama)", [PLAIN], template)
    assert (found.code, found.primary.span.line) == ("E0302", 7)


def test_without_a_revision_the_snapshot_refs_main_names_is_read(tmp_path: Path, hub: Path) -> None:
    (hub / "tokenizer_config.json").write_text(json.dumps({"chat_template": BOMB}))
    older = hub.parent / ("0" * 40)  # sorts first, but refs/main names the other
    older.mkdir()
    (older / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert [d.code for d in _check(tmp_path, 'hf("acme/chat")', [PLAIN])] == ["E0600"]


@pytest.mark.parametrize(
    "config",
    [
        '{"chat_template": [{"name": {"a": 1}, "template": "x"}]}',
        '{"chat_template": 5, "bos_token": {"content": 7}}',
        "[1, 2]",
        '{"chat_template": "{{ 1 }',
    ],
)
def test_an_odd_tokenizer_config_is_no_internal_error(tmp_path: Path, config: str) -> None:
    model = _local_model(tmp_path, {"tokenizer_config.json": config})
    assert [d.code for d in _check(tmp_path, model, [PLAIN])] in ([], ["E0344"])
