"""The one definition of a JSON Lines row, for `ft check`'s peek and `ft run`'s reader alike:
strict JSON (no NaN or Infinity, no key twice), numbers Python can convert, nesting the parser's
stack can hold, and lines of at most MAX_ROW_BYTES."""

from __future__ import annotations

import json

MAX_ROW_BYTES = 1 << 20  # a longer line is an error, not a row silently cut or a check that reads forever


class BadRow(ValueError):
    """Why one line of a JSON Lines file is not a row the runtime can use."""


def _reject_constant(name: str) -> object:
    raise BadRow(f"holds `{name}`, which is not JSON")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    row = dict(pairs)
    if len(row) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadRow(f"has the key `{key}` twice")
            seen.add(key)
    return row


def parse_row(line: str) -> object:
    """One JSON Lines row, strict: NaN, Infinity and duplicate keys are errors, as are numbers too
    long to convert and nesting deeper than the parser's stack."""
    try:
        return json.loads(line, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        reason = exc.msg[:1].lower() + exc.msg[1:]
        raise BadRow(f"is not valid JSON: {reason} at column {exc.colno}") from None
    except RecursionError:
        raise BadRow("is nested too deeply") from None
    except BadRow:
        raise
    except ValueError:  # int-to-str limits: a number of thousands of digits
        raise BadRow("holds a number too long to read") from None


def read_line(raw: bytes) -> tuple[str, dict[str, object] | None, str | None]:
    """A line's text, its row (None for a blank line), and why it is not a row (None when it is one).

    Read it with `readline(MAX_ROW_BYTES + 1)`: a line longer than that is refused, not cut."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"is not UTF-8 text (byte {exc.start + 1} of the line cannot be decoded)"
        return raw.decode("utf-8", "replace"), None, bad
    if len(raw) > MAX_ROW_BYTES:
        return line, None, f"is longer than {MAX_ROW_BYTES // (1 << 20)} MB"
    if not line.strip():
        return line, None, None
    try:
        row = parse_row(line.rstrip("\r\n"))  # so a column past the end is not "line 2"
    except BadRow as exc:
        return line, None, str(exc)
    return (line, row, None) if isinstance(row, dict) else (line, None, "is not a JSON object")
