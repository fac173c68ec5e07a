"""Chat templates in the sandbox: the corpus of escapes and resource attacks of tests/plan/test_sandbox.py
fails the same way in both chat environments, and the helpers Hugging Face chat templates call
(raise_exception, strftime_now, tojson, namespace, loop controls, generation) cannot be turned into one."""

from __future__ import annotations

import json
import time

import pytest
from jinja2 import TemplateError
from jinja2.exceptions import SecurityError, UndefinedError

from ftlang.plan.chat_sandbox import chat_sandbox, tokenizer_sandbox
from ftlang.plan.sandbox import LimitedSandbox

from .test_sandbox import ATTACKS, ESCAPES, ROW, refusal

ENVIRONMENTS = {"chat": chat_sandbox, "tokenizer": tokenizer_sandbox}
CHAT_ESCAPES = [
    "{{ raise_exception.__globals__ }}",
    "{{ strftime_now.__globals__['json'] }}",
    "{{ (body|tojson).__class__ }}",
    "{% set ns = namespace(__class__=1) %}{{ ns }}",
    "{% set ns = namespace() %}{% set ns.__dict__ = 1 %}{{ ns }}",
]
CHAT_ATTACKS = [
    "{{ strftime_now('%999999999Y') }}",
    "{{ ('a' * 1000000)|tojson(indent=2) ~ ('a' * 1000000)|tojson }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% if j > 5 %}{% continue %}{% endif %}"
    "{% endfor %}{% endfor %}",
    "{% generation %}{{ 'a' * 10**9 }}{% endgeneration %}",
]


def _render(env: LimitedSandbox, template: str) -> str:
    return env.render(env.from_string(template), ROW)


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("template", ESCAPES + CHAT_ESCAPES)
def test_attribute_escapes_are_refused(env: str, template: str) -> None:
    try:
        text = _render(ENVIRONMENTS[env](), template)
    except (SecurityError, UndefinedError):
        return
    # transformers' lenient undefined names render an unsafe attribute as nothing, never its value
    assert env == "tokenizer" and not any(word in text for word in ("class", "function", "module", "dict"))


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("template", ATTACKS + CHAT_ATTACKS)
def test_resource_attacks_fail_fast(env: str, template: str) -> None:
    start = time.monotonic()
    with pytest.raises(refusal(template)):
        _render(ENVIRONMENTS[env](), template)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_the_helpers_of_hugging_face_templates_work(env: str) -> None:
    text = (
        "{% set ns = namespace(seen=0) %}{% for t in turns %}{% if loop.index > 1 %}{% break %}{% endif %}"
        "{% set ns.seen = ns.seen + 1 %}{% generation %}{{ t }}{% endgeneration %}{% endfor %}"
        "{{ ns.seen }} {{ {'b': '<é>', 'a': 1}|tojson(sort_keys=True) }} {{ strftime_now('%Y')|length }}"
    )
    assert _render(ENVIRONMENTS[env](), text) == 'a1 {"a": 1, "b": "<é>"} 4'
    assert _render(ENVIRONMENTS[env](), "{{ turns|tojson(indent=1) }}") == json.dumps(ROW["turns"], indent=1)
    with pytest.raises(TemplateError, match="roles must alternate"):
        _render(ENVIRONMENTS[env](), "{{ raise_exception('roles must alternate') }}")


def test_the_tokenizer_sandbox_has_transformers_whitespace_and_undefined_rules() -> None:
    text = "{% for t in turns %}\n  {% if t.missing %}never{% endif %}\n{{ t }}\n{% endfor %}\n"
    assert _render(tokenizer_sandbox(), text) == "a\nb\n"
    with pytest.raises(UndefinedError):
        _render(chat_sandbox(), text)
