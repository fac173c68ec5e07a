"""Chat templates in the template sandbox: the helpers Hugging Face chat templates use, under the same limits.

A chat template (a built-in layout, a recipe's own jinja, or the `chat_template` a model's tokenizer
ships) renders through `LimitedSandbox` like a prompt template, so output, numbers, loops and time per
render are bounded. On top of it come the names transformers gives chat templates
(`transformers.utils.chat_template_utils`): `raise_exception`, `strftime_now`, a `tojson` that does not
escape HTML, `{% break %}`/`{% continue %}`, `{% generation %}` and a `namespace` that stores no
underscore names. A tokenizer's own template also gets transformers' whitespace rules (`trim_blocks`,
`lstrip_blocks`) and lenient undefined names, so it renders exactly as `apply_chat_template` would;
a recipe's own template keeps the strict rules of every ftlang template.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.runtime import Macro
from jinja2.utils import Namespace

from .sandbox import LimitedSandbox, TemplateLimitError, bounded_filter

# A strftime width such as `%1000000000Y` pads to that many characters before any limit could apply.
_WIDE_STRFTIME = re.compile(r"%[^a-zA-Z%]*\d{4,}")


class _Generation(Extension):
    """`{% generation %}…{% endgeneration %}`: transformers marks the assistant's text with it for its
    assistant masks; here the text renders as written (ftlang finds the trained spans itself)."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_body"), [], [], body).set_lineno(lineno)

    def _generation_body(self, caller: Macro) -> str:
        return str(caller())


def raise_exception(message: str) -> None:
    """A template refusing a conversation (`{{ raise_exception('roles must alternate') }}`)."""
    raise TemplateError(message)


def strftime_now(format: str) -> str:
    if _WIDE_STRFTIME.search(format):
        raise TemplateLimitError("`strftime_now` was given a format width too large")
    return datetime.now().strftime(format)


def tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    """JSON as transformers' chat templates get it: no HTML escaping, its indent and separators."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class _Namespace(Namespace):
    """`namespace(…)` whose attributes are never underscore names (a way towards Python's internals)."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # Namespace's own signature: `self` may be a key
        self, rest = args[0], args[1:]
        for name in dict(*rest, **kwargs):
            _check_name(name)
        Namespace.__init__(self, *rest, **kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        _check_name(name)
        Namespace.__setitem__(self, name, value)


def _check_name(name: object) -> None:
    if isinstance(name, str) and name.startswith("_"):
        raise SecurityError(f"a chat template cannot store `{name}` on a namespace (a name starting with _)")


def _with_chat_helpers(env: LimitedSandbox) -> LimitedSandbox:
    env.filters["tojson"] = bounded_filter("tojson", tojson)
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now, namespace=_Namespace)
    return env


@lru_cache(maxsize=1)
def chat_sandbox() -> LimitedSandbox:
    """The sandbox of built-in and recipe chat templates: strict undefined names, text as written."""
    return _with_chat_helpers(LimitedSandbox(extensions=[loopcontrols, _Generation]))


@lru_cache(maxsize=1)
def tokenizer_sandbox() -> LimitedSandbox:
    """The sandbox of a tokenizer's own chat template: transformers' whitespace and undefined rules."""
    env = LimitedSandbox(
        extensions=[loopcontrols, _Generation],
        undefined=Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    return _with_chat_helpers(env)


def chat_names() -> tuple[str, ...]:
    """The helpers a chat template may call besides its values (`raise_exception`, `range`, …)."""
    return tuple(sorted(chat_sandbox().globals))
