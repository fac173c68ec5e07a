"""The template sandbox corpus: attribute escapes are refused (jinja2's sandbox) and every
resource attack fails fast with TemplateLimitError, while ordinary prompt templates render."""

from __future__ import annotations

import time

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from ftlang.plan.sandbox import MAX_OUTPUT, TemplateLimitError, sandbox

ROW = {"body": "the printer is on fire", "team": "technical", "n": 3, "turns": ["a", "b"]}

ESCAPES = [
    "{{ body.__class__ }}",
    "{{ body.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ (body|attr('__class__')) }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ namespace.__init__.__globals__['os'] }}",
    "{{ body.format.__globals__ }}",
]
LIPSUM = "{{ lipsum(n=100000) }}"  # the sandbox has no lipsum at all: an undefined name, not a limit
ATTACKS = [
    "{{ 'a' * 10**9 }}",
    "{{ body * 10**8 }}",
    "{{ 9 ** 999999 }}",
    "{{ 10**600 * 10**600 * 10**600 }}",
    LIPSUM,
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x'|center(1000000000) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '{:999999999}'.format(1) }}",
    "{{ ('a' * 1000000)|replace('a', 'aa') }}",
    "{{ ('a' * 1000000).replace('a', 'aa') }}",
    "{% set ns = namespace(a='a') %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}",
    "{% set a = 'a' * 1000000 %}{{ a ~ a }}",
    "{{ ([('a' * 1000000)] * 1000)|join }}",
    "{{ ('a' * 600000) + ('a' * 600000) }}",
    "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
]


def refusal(template: str) -> type[Exception]:
    """What an attack of the corpus must fail with: a limit, so that a typo in it cannot pass as one."""
    return UndefinedError if template == LIPSUM else TemplateLimitError


@pytest.mark.parametrize("template", ESCAPES)
def test_attribute_escapes_are_refused(template: str) -> None:
    env = sandbox()
    with pytest.raises((SecurityError, UndefinedError)):
        env.render(env.from_string(template), ROW)


@pytest.mark.parametrize("template", ATTACKS)
def test_resource_attacks_fail_fast(template: str) -> None:
    env = sandbox()
    start = time.monotonic()
    with pytest.raises(refusal(template)):
        env.render(env.from_string(template), ROW)
    assert time.monotonic() - start < 5


def test_compiling_computes_nothing() -> None:
    start = time.monotonic()
    sandbox().from_string("{{ 9 ** 9 ** 9 ** 9 }}")  # jinja2's optimiser would fold this constant
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(
    "template,expected",
    [
        ("{{ body }} ({{ team }})", "the printer is on fire (technical)"),
        ("{{ body|upper }}", "THE PRINTER IS ON FIRE"),
        ("{% for t in turns %}{{ loop.index }}:{{ t }} {% endfor %}", "1:a 2:b "),
        ("{{ n * 2 }} {{ 2 ** 10 }} {{ '-' * 3 }} {{ body ~ '!' }}", "6 1024 --- the printer is on fire!"),
        ("{{ '%05d' % n }} {{ '{:>4}'.format(n) }} {{ body|truncate(9) }}", "00003    3 the..."),
    ],
)
def test_ordinary_templates_render(template: str, expected: str) -> None:
    env = sandbox()
    assert env.render(env.from_string(template), ROW) == expected


def test_output_is_bounded_per_render() -> None:
    env = sandbox()
    with pytest.raises(TemplateLimitError):
        env.render(env.from_string("{% for i in range(20) %}{{ body * 50000 }}{% endfor %}"), ROW)
    assert len(env.render(env.from_string("{{ 'a' * n }}"), {"n": MAX_OUTPUT})) == MAX_OUTPUT


def test_a_refusal_names_what_the_template_calls() -> None:
    env = sandbox()
    with pytest.raises(TemplateLimitError, match="^`range` was given a number too large"):
        env.render(env.from_string("{% for i in range(10**8) %}{% endfor %}"), ROW)
