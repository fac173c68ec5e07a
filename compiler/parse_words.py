"""What the parser expected and what it found, in words: Lark's token names as a reader says them."""

from __future__ import annotations

from lark import Token, UnexpectedInput

from .lexicon import KEYWORDS

_HUMAN = {
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "PERCENT": "a percentage",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "DOT": "`.`",
    "_NL": "a new line",
    "$END": "the end of the file",
    "COMPARE": "a comparison",
    "ADD": "`+`",
    "SUB": "`-`",
    "MUL": "`*` or `/`",
    "_SHA256": "`sha256`",
    "AS": "`as`",
    "EXTENDS": "`extends`",
    "VALUE": "a value",
    "OPERATOR": "an operator",
    "DECLARATION": "a declaration (" + ", ".join(f"`{d}`" for d in KEYWORDS) + ")",
}
# The order words appear in "expected …": what completes the construct first, a new line last.
_ORDER = [
    "DECLARATION",
    "EQUAL",
    "COLON",
    "VALUE",
    "NAME",
    "STRING",
    "LONG_STRING",
    "INT",
    "FLOAT",
    "PERCENT",
    "TRUE",
    "FALSE",
    "LBRACE",
    "LSQB",
    "LPAR",
    "DOT",
    "COMMA",
    "RPAR",
    "RSQB",
    "RBRACE",
    "EXTENDS",
    "_SHA256",
    "AS",
    "_NL",
    "OPERATOR",
    "$END",
]
_VALUE_STARTS = {"STRING", "LONG_STRING", "INT", "FLOAT", "PERCENT", "TRUE", "FALSE", "LSQB", "NAME"}
_OPERATORS = {"ADD", "SUB", "MUL", "COMPARE", "AND", "OR", "IN", "NOT"}
_ENDINGS = {"COMMA", "RPAR", "RSQB", "RBRACE", "_NL", "$END"}


def expected_tokens(exc: UnexpectedInput) -> set[str]:
    """The tokens that could really come next; LALR's own set has spurious lookaheads."""
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:
        try:
            return set(interactive.accepts())
        except Exception:  # accepts() replays the parser; its own failure must not hide the user's
            pass
    return set(getattr(exc, "expected", None) or ())


def describe_expected(expected: set[str]) -> str:
    names = set(expected)
    if {"RECIPE", "MODEL", "DATA"} <= names:
        names -= {d.upper() for d in KEYWORDS} | {"_NL", "$END"}
        names.add("DECLARATION")
    if len(names & _VALUE_STARTS) >= 4:
        names -= _VALUE_STARTS | {"LBRACE", "LPAR", "SUB", "NOT"}
        names.add("VALUE")
    operators = bool(names & _OPERATORS) and bool(names & _ENDINGS)
    if operators:  # after a whole value: how the entry may end matters, not how it may go on
        names -= _OPERATORS | {"DOT", "LPAR", "NAME"}
        names.add("OPERATOR")
    if "_NL" in names:
        names.discard("$END")
    if len(names) > 2:  # `.` and `(` continue a name; they are rarely what was missing
        names -= {"DOT", "LPAR"}
    words: list[str] = []
    for name in [t for t in _ORDER if t in names] + sorted(names - set(_ORDER)):
        word = _HUMAN.get(name) or (f"`{name.lower()}`" if name.isalpha() else name)
        if word not in words:
            words.append(word)
    if len(words) > 5:
        words = words[:5] + ["…"]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1] if words else "something else"


def describe_found(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    if token.type in ("STRING", "LONG_STRING"):
        return "string"
    return f"`{token.value}`"
