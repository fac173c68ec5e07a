"""The one template sandbox: jinja2's immutable sandbox with limits on what a render may cost.

Both `ft check` (compiler/templates.py) and `ft run` (runtime/data/prompts.py) use it, so a
template that passes the check renders the same way at run time. jinja2's sandbox blocks
attribute escapes but not resources: `{{ 'a' * 10**9 }}`, `{{ 9**9**9 }}` or
`{{ lipsum(n=100000) }}` would take gigabytes or hours. Here every render is bounded:

* output: `MAX_OUTPUT` characters per rendered template (checked as the text is produced, and
  before a repetition or padding makes a string longer than that);
* integers: results of `**` and `*` above `MAX_INT_BITS` bits are refused;
* loops: `range` counts toward `MAX_ITERATIONS` steps per render;
* time: `MAX_SECONDS` per render, checked at every call, attribute, loop step and output chunk.

Optimisation (constant folding) is off: jinja2 would otherwise compute `{{ 9**9**9 }}` while
compiling, before any limit applies, and `ft check` only compiles.
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 1_000_000
MAX_INT_BITS = 4096
MAX_ITERATIONS = 1_000_000
MAX_SECONDS = 2.0


class TemplateLimitError(SecurityError):
    """A render went past one of the sandbox's limits (a message that names the limit)."""


class _Budget:
    """What one render has spent; the environment holds the current one."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.steps = 0

    def tick(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > MAX_ITERATIONS:
            raise TemplateLimitError(f"the template loops more than {MAX_ITERATIONS:,} times")
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"the template takes longer than {MAX_SECONDS:g} s to render")


def _size_of(value: object) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _refuse(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what} (the template sandbox's limit is {MAX_OUTPUT:,} characters or items)")


def _checked_power(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if abs(base).bit_length() * exponent > MAX_INT_BITS:
            raise TemplateLimitError(f"`**` would make a number of more than {MAX_INT_BITS} bits")
    return operator.pow(base, exponent)


def _checked_times(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"`*` would make a number of more than {MAX_INT_BITS} bits")
    for count, other in ((left, right), (right, left)):
        if isinstance(count, int) and count * _size_of(other) > MAX_OUTPUT:
            raise _refuse("`*` would make text or a list too long")
    return operator.mul(left, right)


def _checked_plus(left: Any, right: Any) -> Any:
    if _size_of(left) + _size_of(right) > MAX_OUTPUT:
        raise _refuse("`+` would make text or a list too long")
    return operator.add(left, right)


_WIDE_FORMAT = re.compile(r"[%{][^%{}a-zA-Z]*?\d{7,}")


def _checked_modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise _refuse("a format width is too large")
    return operator.mod(left, right)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": _checked_power,
    "*": _checked_times,
    "+": _checked_plus,
    "%": _checked_modulo,
}


def _check_arguments(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse, before the work is done, a call that could build text or a list past the limit."""
    values = (*args, *kwargs.values())
    if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_OUTPUT for v in values):
        raise _refuse(f"`{name}` was given a number too large")
    if any(isinstance(v, str) and _WIDE_FORMAT.search(v) for v in values) and name == "format":
        raise _refuse("a format width is too large")
    if name == "replace" and len(args) >= 3 and all(isinstance(a, str) for a in args[:3]):
        text, old, new = args[:3]
        grown = len(text) + (text.count(old) if old else len(text) + 1) * max(len(new) - len(old), 0)
        if grown > MAX_OUTPUT:
            raise _refuse("`replace` would make text too long")
    if name == "join":
        items = args[0] if name == "join" and args and not isinstance(args[0], str) else args[-1] if args else ()
        if isinstance(items, (list, tuple)) and sum(_size_of(i) for i in items) > MAX_OUTPUT:
            raise _refuse("`join` would make text too long")


def _checked_result(name: str, result: Any) -> Any:
    if _size_of(result) > MAX_OUTPUT:
        raise _refuse(f"`{name}` made text or a list too long")
    return result


class _Concat(CodeGenerator):
    """Template code whose `~` goes through the environment, so its length is checked too."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, strict about undefined names, with the limits above."""

    intercepted_binops = frozenset(_BINOPS)
    code_generator_class = _Concat

    def __init__(self, **options: Any) -> None:
        """`options` are jinja2's (extensions, whitespace rules, undefined); constant folding stays off."""
        defaults: dict[str, Any] = {"undefined": StrictUndefined, "autoescape": False, "keep_trailing_newline": True}
        super().__init__(**{**defaults, **options, "optimized": False})
        self.budget = _Budget()
        self.globals["range"] = self._range
        self.globals.pop("lipsum", None)  # text of any length on demand: nothing a prompt needs
        self.filters = {name: bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        return _BINOPS[operator_](left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.tick()
        name = getattr(__obj, "__name__", "call")
        bound_to = getattr(__obj, "__self__", None)
        _check_arguments(name, (bound_to, *args) if isinstance(bound_to, str) else args, kwargs)
        return _checked_result(name, super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`'…'.format(…)`, which the sandbox wraps: no width past the limit, no result past it."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_arguments("format", (value.__self__, *args), kwargs)
            text: str = _checked_result("format", wrapped(*args, **kwargs))
            return text

        return bounded

    def checked_concat(self, parts: tuple[Any, ...]) -> str:
        """`a ~ b`: refused when the text would pass the limit."""
        texts = [str(part) for part in parts]
        if sum(map(len, texts)) > MAX_OUTPUT:
            raise _refuse("`~` would make text too long")
        return "".join(texts)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        return super().getattr(obj, attribute)

    def _range(self, *args: int) -> Iterator[int]:
        for value in range(*args):
            self.budget.tick()
            yield value

    _range.__name__ = "range"  # what a refusal names: the template calls it `range`

    def render(self, template: Template, values: Mapping[str, Any]) -> str:
        """`template` rendered with `values`, within the limits; TemplateLimitError past one."""
        self.budget = _Budget()
        out: list[str] = []
        size = 0
        for chunk in template.generate(values):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimitError(f"the template renders more than {MAX_OUTPUT:,} characters")
            self.budget.tick(0)
            out.append(chunk)
        return "".join(out)


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, refusing arguments that could build text past MAX_OUTPUT, and such results."""
    passes = getattr(function, "jinja_pass_arg", None)  # jinja2 passes the context or environment first

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(name, args[1:] if passes else args, kwargs)
        return _checked_result(name, function(*args, **kwargs))

    if passes is not None:
        bounded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    bounded.__name__ = name
    return bounded


@lru_cache(maxsize=1)
def sandbox() -> LimitedSandbox:
    """The shared environment (templates are compiled once; each render gets a fresh budget)."""
    return LimitedSandbox()
