"""The answers of the language server, as plain data over text offsets (no protocol types).

Diagnostics are exactly `ft check`'s; hover, completion and go-to-definition read the syntax
tree where the text parses and the characters around the cursor where it does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ftlang.compiler import nodes as n
from ftlang.compiler.api import CheckResult, check_source
from ftlang.compiler.datapeek import Peek, peek
from ftlang.compiler.format import format_source
from ftlang.compiler.parser import parse
from ftlang.compiler.source import SourceFile, Span
from ftlang.plan import catalogue

from .cursor import Cursor, cursor_at
from .vocabulary import (
    DECLARATIONS,
    block_shape,
    field_hover,
    method_hover,
    metric_hover,
    statement_hover,
)

_NAME_AT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE_SOURCES = {"jsonl", "csv", "parquet", "datasets"}


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "keyword", "field", "statement", "method", "metric", "data field", "module"
    detail: str = ""


@dataclass(frozen=True)
class Location:
    path: str
    span: Span


def check(text: str, path: str) -> CheckResult:
    """`ft check` of the editor's text, resolved against the file's folder as on disk."""
    return check_source(SourceFile(path, text))


def offset_of(text: str, line: int, col: int) -> int:
    """The character offset of a 1-based line and column."""
    start = 0
    for _ in range(line - 1):
        newline = text.find("\n", start)
        if newline < 0:
            return len(text)
        start = newline + 1
    return min(start + col - 1, len(text))


def formatted(text: str, path: str) -> str | None:
    """The canonical text, or None when the recipe does not parse."""
    return format_source(text, path).text


def _word_at(text: str, offset: int) -> tuple[str, int] | None:
    for match in _NAME_AT.finditer(text, max(0, text.rfind("\n", 0, offset) + 1)):
        if match.start() <= offset <= match.end():
            return match.group(0), match.start()
        if match.start() > offset:
            break
    return None


def hover(text: str, path: str, offset: int) -> str | None:
    found = _word_at(text, offset)
    if found is None:
        return None
    word, start = found
    cursor = cursor_at(text, start)
    if cursor.in_template:
        return _data_field_hover(text, path, word)
    if cursor.list_statement == "metrics" or (cursor.declaration == "eval" and word in catalogue.METRICS):
        return metric_hover(word)
    line_start = text.rfind("\n", 0, start) + 1
    if cursor.depth == 0:
        if text[line_start:start].strip() == "method":
            return method_hover(word)
        return statement_hover(word) if word in DECLARATIONS else None
    if text[line_start:start].strip() == "":
        return field_hover(cursor.declaration, cursor.declaration_name, word) or statement_hover(word)
    return method_hover(word) if word in catalogue.METHODS else None


def complete(text: str, path: str, offset: int) -> list[Completion]:
    cursor = cursor_at(text, offset)
    if cursor.in_template:
        return [Completion(name, "data field", detail) for name, detail in _data_fields(text, path).items()]
    if cursor.list_statement == "metrics":
        return [Completion(name, "metric", spec.summary) for name, spec in catalogue.METRICS.items()]
    if cursor.depth == 0:
        if cursor.line_prefix.strip() == "method " + cursor.word or cursor.line_prefix.rstrip().endswith("method"):
            return [Completion(name, "method", spec.summary) for name, spec in catalogue.METHODS.items()]
        if cursor.at_entry_start:
            return [Completion(word, "keyword") for word in DECLARATIONS]
        if cursor.line_prefix.rstrip().endswith("extends") or "extends " in cursor.line_prefix:
            return [Completion(alias, "module", f'import "{where}"') for alias, where in _imports(text).items()]
        return []
    return _block_completions(cursor)


def _block_completions(cursor: Cursor) -> list[Completion]:
    if not cursor.at_entry_start:
        return []
    shape = block_shape(cursor.declaration, cursor.declaration_name)
    if shape is None:
        return []
    items = [
        Completion(name, "field", field_hover(cursor.declaration, cursor.declaration_name, name) or "")
        for name in sorted(shape.fields)
    ]
    items += [Completion(name, "statement", statement_hover(name) or "") for name in sorted(shape.statements)]
    return items


def definition(text: str, path: str, offset: int) -> Location | None:
    """Where the name under the cursor is declared: an import's file, an extended declaration
    in it, or the `data` declaration a split reference names."""
    recipe, _ = parse(SourceFile(path, text))
    if recipe is None:
        return None
    root = Path(path).resolve().parent
    imports = {i.alias: i for i in recipe.items if isinstance(i, n.ImportDecl)}
    for item in recipe.items:
        if isinstance(item, n.ImportDecl) and _inside(text, item.path.span, offset):
            return Location(str(root / str(item.path.value)), Span(str(root / str(item.path.value)), 1, 1, 1, 1))
        if isinstance(item, n.Decl) and item.extends is not None and _inside(text, item.extends.span, offset):
            return _extended(root, imports, item.extends)
    found = _word_at(text, offset)
    if found is None:
        return None
    data = {d.name: d for d in recipe.items if isinstance(d, n.Decl) and d.kind == "data" and d.name}
    word, start = found
    before = text[max(0, start - 1) : start]
    if word in data and before != ".":
        return Location(path, data[word].name_span)
    return None


def _inside(text: str, span: Span, offset: int) -> bool:
    return offset_of(text, span.line, span.col) <= offset <= offset_of(text, span.end_line, span.end_col)


def _extended(root: Path, imports: dict[str, n.ImportDecl], name: n.Name) -> Location | None:
    if len(name.parts) != 2 or name.parts[0] not in imports:
        return None
    target = root / str(imports[name.parts[0]].path.value)
    try:
        library, _ = parse(SourceFile.read(target))
    except (OSError, UnicodeDecodeError):
        return None
    for item in library.items if library else []:
        if isinstance(item, n.Decl) and item.name == name.parts[1]:
            return Location(str(target), item.name_span)
    return None


def _imports(text: str) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r'^\s*import\s+"([^"]*)".*?\bas\s+(\w+)', text, re.M)}


def _data_peeks(text: str, path: str) -> list[Peek]:
    root = Path(path).resolve().parent
    found = []
    for match in re.finditer(r"^\s*data\s+\w+\s*=\s*(\w+)\(\s*\"([^\"]+)\"", text, re.M):
        if match.group(1) in _FILE_SOURCES:
            found.append(peek(match.group(1), root / match.group(2)))
    return found


def _data_fields(text: str, path: str) -> dict[str, str]:
    """Each field of the recipe's data files (first rows) with its type and an example value."""
    fields: dict[str, str] = {}
    for result in _data_peeks(text, path):
        for name in result.fields:
            example = next((row[name] for row in result.sample if row.get(name) is not None), None)
            shown = repr(example) if example is not None else "—"
            fields.setdefault(name, f"{type(example).__name__ if example is not None else 'empty'} · e.g. {shown[:80]}")
    return fields


def _data_field_hover(text: str, path: str, word: str) -> str | None:
    detail = _data_fields(text, path).get(word)
    return f"**data field `{word}`**: {detail}" if detail else None
