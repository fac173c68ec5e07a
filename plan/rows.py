"""The one definition of a data row, for `ft check`'s peek and `ft run`'s reader alike.

A JSON Lines row is strict JSON (no NaN or Infinity, no key twice, no unpaired surrogate), with
numbers Python can convert, nesting the parser's stack can hold, and at most MAX_ROW_BYTES. A CSV
file names each column once; a record has the header's width, UTF-8 text and no NUL byte. The
fields a prompt uses are present, and those it renders hold text, or numbers in every row
(RowRules)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, TextIO

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
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
        row = json.loads(line, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        reason = exc.msg[:1].lower() + exc.msg[1:]
        raise BadRow(f"is not valid JSON: {reason} at column {exc.colno}") from None
    except RecursionError:
        raise BadRow("is nested too deeply") from None
    except BadRow:
        raise
    except ValueError:  # int-to-str limits: a number of thousands of digits
        raise BadRow("holds a number too long to read") from None
    # Only a `\uD800`-`\uDFFF` escape makes a surrogate: a line without one needs no walk over its strings.
    if _SURROGATE_ESCAPE.search(line) and any(_has_surrogate(s) for s in _strings(row)):
        raise BadRow("holds an unpaired surrogate escape (such as `\\ud800`), which is not text")
    return row


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


def _strings(value: object) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included; its nesting is bounded by the parser."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            todo.extend(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


# --- CSV ------------------------------------------------------------------------------------


class BadFile(ValueError):
    """A CSV file no row of which can be read: its header, or a record the csv module refuses."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


Record = tuple[int, "dict[str, str] | None", "str | None"]


def csv_rows(handle: TextIO) -> tuple[list[str], Iterator[Record]]:
    """A CSV file's header, and for each record: (line it starts on, its row or None, why it is
    not a row or None). Open the file with `errors="surrogateescape", newline=""`: undecodable
    bytes stay in the field, so the record holding them is known. A header naming a column twice,
    or a record the csv module refuses (a field past MAX_ROW_BYTES), raises BadFile."""
    csv.field_size_limit(MAX_ROW_BYTES)
    reader = csv.DictReader(handle)
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise BadFile(_csv_error(exc), 1) from None
    if not header:
        raise BadFile("has no header row", 1)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise BadFile(f"names the column `{repeated[0]}` twice in its header", 1)
    return header, _records(reader, len(header))


def _records(reader: csv.DictReader[str], width: int) -> Iterator[Record]:
    start = reader.line_num + 1  # a quoted field may span lines: a record starts after the last one
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadFile(_csv_error(exc), start) from None
        yield start, *_csv_record(row, width)
        start = reader.line_num + 1


def _csv_error(exc: csv.Error) -> str:
    return f"is longer than {MAX_ROW_BYTES // (1 << 20)} MB" if "field limit" in str(exc) else f"is not CSV ({exc})"


def _csv_record(row: dict[str | None, Any], width: int) -> tuple[dict[str, str] | None, str | None]:
    if None in row:
        return None, f"has more columns than the header names ({width + len(row[None])}, not {width})"
    values = list(row.values())
    if any(v is None for v in values):
        return None, f"has fewer columns than the header names ({sum(v is not None for v in values)}, not {width})"
    if any(_has_surrogate(v) for v in values):
        return None, "is not UTF-8 text"
    if any("\x00" in v for v in values):
        return None, "holds a NUL byte"
    return row, None  # type: ignore[return-value]  # no None key: checked above


# --- the values a prompt reads ---------------------------------------------------------------

# Which rule a row breaks: a field the prompt uses is missing or null; a field it renders as text
# holds an object or a list; or holds a number where an earlier row held text (or the reverse).
Rule = Literal["missing", "not_text", "mixed_kinds"]


def held(value: object) -> str:
    """What a JSON value is, as a message says it: text, the number `42`, `true`, an object, a list, null."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    if isinstance(value, bool) or value is None:
        return f"`{json.dumps(value)}`" if value is not None else "null"
    if isinstance(value, (int, float)):
        return f"the number `{json.dumps(value)}`"
    return f"a {type(value).__name__}"  # parquet and hub rows hold dates, bytes, …


class RowRules:
    """The checks of one pass over a data source's rows, in read order: `ft check` runs them on
    the rows it peeks, `ft run` on every row before a model loads.

    `required` fields must be present and not null; `text` fields (those
    a template renders) must hold text or a number, never an object or a list, and keep the kind
    of the first row that holds them: a number among text is a row exported wrong, not a value to
    render. A row that breaks a rule does not set a field's kind, so a skipped row sets nothing."""

    def __init__(self, required: Sequence[str], text: Sequence[str]) -> None:
        self.required, self.text = list(required), list(text)
        self.first: dict[str, tuple[bool, str, str]] = {}  # field -> (holds text, what it held, where)

    def fault(self, row: Mapping[str, object], where: str) -> tuple[Rule, str] | None:
        """The first rule `row` (read at `where`, e.g. "line 7") breaks, with what it holds; None when none."""
        missing = [f for f in self.required if row.get(f) is None]
        if missing:
            what = "has no field" if missing[0] not in row else "has null in field"
            return "missing", f"{what} `{missing[0]}`, which the prompt uses"
        new: list[tuple[str, tuple[bool, str, str]]] = []
        for name in self.text:
            value = row.get(name)
            if value is None:
                continue
            if isinstance(value, (dict, list)):
                return "not_text", f"holds {held(value)} in `{name}`, where the prompt expects text"
            is_text = isinstance(value, str)
            first = self.first.get(name)
            if first is None:
                new.append((name, (is_text, held(value), where)))
            elif first[0] != is_text:
                return "mixed_kinds", f"holds {held(value)} in `{name}`, where {first[2]} holds {first[1]}"
        self.first.update(new)  # only a row that breaks no rule sets a field's kind
        return None


_TEMPLATES = ("input", "target", "label", "chosen", "rejected", "completion", "desirable")
# Filters that print their value as text: `{{ body | trim }}` prints `body` as `{{ body }}` does.
_TEXT_FILTERS = frozenset({"trim", "upper", "lower", "title", "capitalize", "striptags", "truncate", "wordwrap"})


def rendered_fields(prompt: Mapping[str, Any]) -> list[str]:
    """The fields of `prompt` (a PromptPlan as JSON) its templates print as they are (`{{ body }}`,
    `{{ body | trim }}`): those must hold text, or numbers. A field read in parts (`{{ body.text }}`),
    looped over or joined is not one, and neither is a chat's list of turns."""
    from jinja2 import TemplateSyntaxError, nodes

    from ftlang.plan.sandbox import sandbox

    sources = [prompt.get(key) for key in _TEMPLATES] + [turn.get("template") for turn in prompt.get("turns") or []]
    printed: set[str] = set()
    for source in sources:
        if not isinstance(source, str):
            continue
        try:
            tree = sandbox().parse(source)
        except TemplateSyntaxError:  # the compiler reports it; there is nothing to print
            continue
        for output in tree.find_all(nodes.Output):
            printed.update(name for node in output.nodes if (name := _printed_name(node)))
    return [name for name in prompt.get("fields") or [] if name in printed]


def _printed_name(node: Any) -> str | None:
    from jinja2 import nodes

    while isinstance(node, nodes.Filter) and node.name in _TEXT_FILTERS:
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None
