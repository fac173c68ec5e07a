"""Read what a data source holds at check time: its fields, first rows and content hash."""

from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from ftlang.plan.hashing import sha256_path
from ftlang.plan.rows import MAX_ROW_BYTES, BadFile, csv_rows, read_line

PEEK_ROWS = 100
NO_PYARROW = "cannot be read without pyarrow, which comes with the runtime: pip install 'ftlang[run]'"


@dataclass(frozen=True)
class Peek:
    """The fields seen in the first rows, or the problem that stopped reading."""

    fields: tuple[str, ...] = ()
    rows_read: int = 0
    sha256: str | None = None
    problem: str | None = None  # a message; `problem_line` says where, when known
    problem_line: int | None = None
    problem_text: str | None = None  # the offending line, to quote in the diagnostic
    sample: tuple[dict[str, object], ...] = field(default=())  # the rows read, for checks of their values
    lines: tuple[int, ...] = ()  # the line each sample row starts on
    complete: bool = False  # the sample is the whole file


def peek(kind: str, path: Path) -> Peek:
    try:
        if not path.exists():
            return Peek(problem="not found")
    except (OSError, ValueError):  # a name no file can have (too long, a NUL byte)
        return Peek(problem="not found")
    if not path.is_file() and not path.is_dir():
        # A FIFO or a device (`/dev/zero`) would block the check or never end.
        return Peek(problem="cannot be read: it is not a regular file (a pipe or a device)")
    try:
        digest = sha256_path(path)
        reader = {"jsonl": _peek_jsonl, "csv": _peek_csv, "parquet": _peek_parquet, "datasets": _peek_datasets}[kind]
        result = reader(path)
    except UnicodeDecodeError as exc:
        return Peek(problem=f"is not UTF-8 text (byte {exc.start} cannot be decoded)")
    except OSError as exc:
        return Peek(problem=f"cannot be read: {exc.strerror or exc}")
    except (ValueError, csv.Error, RecursionError) as exc:  # a CSV with NUL bytes, a broken dataset_info.json
        return Peek(problem=f"is malformed: {exc}")
    return Peek(
        result.fields,
        result.rows_read,
        digest,
        result.problem,
        result.problem_line,
        result.problem_text,
        result.sample,
        result.lines,
        result.complete,
    )


def _fields_of(rows: list[dict[str, object]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return tuple(seen)


def _peek_jsonl(path: Path) -> Peek:
    if path.is_dir():
        return Peek(problem="is a folder, not a JSON Lines file")
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    with path.open("rb") as handle:
        number = 0
        while len(rows) < PEEK_ROWS and number < PEEK_ROWS * 100:  # blank lines count, but not forever
            raw = handle.readline(MAX_ROW_BYTES + 1)
            if not raw:
                break
            number += 1
            line, row, problem = read_line(raw)
            if problem:
                return Peek(
                    _fields_of(rows),
                    len(rows),
                    problem=f"line {number} {problem}",
                    problem_line=number,
                    problem_text=line[:200],
                )
            if row is not None:
                rows.append(row)
                lines.append(number)
        complete = not handle.read(1)
    if not rows:
        return Peek(problem="holds no rows")
    return Peek(_fields_of(rows), len(rows), sample=tuple(rows), lines=tuple(lines), complete=complete)


def _peek_csv(path: Path) -> Peek:
    rows: list[dict[str, object]] = []
    lines: list[int] = []
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        try:
            header, records = csv_rows(handle)
            for line, row, problem in records:
                if row is None:
                    return Peek(tuple(header), len(rows), problem=f"line {line} {problem}", problem_line=line)
                rows.append(dict(row))
                lines.append(line)
                if len(rows) >= PEEK_ROWS:
                    break
        except BadFile as exc:
            where = "" if exc.line == 1 else f"line {exc.line} "
            return Peek(_fields_of(rows), len(rows), problem=f"{where}{exc.problem}", problem_line=exc.line)
        complete = not handle.read(1)
    return Peek(tuple(header), len(rows), sample=tuple(rows), lines=tuple(lines), complete=complete)


def _peek_parquet(path: Path) -> Peek:
    if importlib.util.find_spec("pyarrow") is None:  # a light install: ftlang without its runtime
        return Peek(problem=NO_PYARROW)
    import pyarrow.parquet as pq  # only recipes with parquet data pay for pyarrow

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        return Peek(problem=f"is not a parquet file ({type(exc).__name__})")
    return Peek(tuple(schema.names), 0)


def _peek_datasets(path: Path) -> Peek:
    """A folder written by `datasets.save_to_disk`: its features are in dataset_info.json."""
    infos = sorted(path.rglob("dataset_info.json"))
    if not infos:
        return Peek(problem="is not a `datasets` folder (no dataset_info.json)")
    info = json.loads(infos[0].read_text(encoding="utf-8"))
    features = info.get("features") if isinstance(info, dict) else None
    if not isinstance(features, dict):
        return Peek(problem=f"has a {infos[0].name} without a `features` mapping")
    return Peek(tuple(features), 0)


def peek_hub(files: list[Path], features: list[str]) -> Peek:
    """A cached hub dataset's split: its features, and first rows from its first Arrow file.

    `datasets` writes Arrow IPC streams; the first record batch holds the first rows, so
    nothing past them is read and `datasets` itself is never imported.
    """
    if importlib.util.find_spec("pyarrow") is None:  # a light install: ftlang without its runtime
        return Peek(problem=NO_PYARROW)
    import pyarrow as pa  # only recipes with hub data pay for pyarrow

    if not files:
        return Peek(tuple(features), 0)
    try:
        with pa.memory_map(str(files[0])) as source:
            batch = pa.ipc.open_stream(source).read_next_batch()
    except (OSError, StopIteration, pa.ArrowInvalid) as exc:
        return Peek(problem=f"has an unreadable cached file {files[0].name} ({type(exc).__name__})")
    rows = batch.slice(0, PEEK_ROWS).to_pylist()
    return Peek(tuple(features) or _fields_of(rows), len(rows), sample=tuple(rows))
