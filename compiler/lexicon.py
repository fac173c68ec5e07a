"""The lexical pieces the compiler needs outside the parser, taken from their one definition.

Strings are defined by the grammar's STRING and LONG_STRING terminals, read from the grammar
file here; declaration keywords by plan/declarations.py (a test holds the grammar to it). The
parser's error recovery, comment collection and bracket matching build their patterns from these.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from ftlang.plan.declarations import DECLARATIONS

_TERMINAL = re.compile(r"^(?P<name>[A-Z_]+)(?:\.\d+)?: /(?P<pattern>.*)/(?P<flags>[imsux]*)$", re.M)
_RULE_KEYWORD = re.compile(r'^(?P<rule>\w+_decl): "(?P<keyword>\w+)"', re.M)


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return resources.files("ftlang.grammar").joinpath("ftlang.lark").read_text(encoding="utf-8")


def terminal(name: str) -> str:
    """The regular expression of one of the grammar's regex terminals, e.g. STRING."""
    for match in _TERMINAL.finditer(grammar_text()):
        if match.group("name") == name:
            return match.group("pattern").replace("\\/", "/")
    raise KeyError(f"the grammar has no regex terminal {name}")


def grammar_keywords() -> list[str]:
    """The keywords that start the grammar's declarations, in the grammar's order."""
    return [m.group("keyword") for m in _RULE_KEYWORD.finditer(grammar_text())]


STRING = terminal("STRING")  # "…" on one line
LONG_STRING = terminal("LONG_STRING")  # """…""" over several lines (compile with re.S)
ANY_STRING = f"{LONG_STRING}|{STRING}"  # the long form first: `"""` also starts a short empty string
KEYWORDS = tuple(DECLARATIONS)
KEYWORD = "(" + "|".join(KEYWORDS) + r")\b"
