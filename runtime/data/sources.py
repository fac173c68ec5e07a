"""Data: read rows from files or inline, filter, dedupe, and split them by a stable hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftlang.plan.hashing import sha256_path
from ftlang.plan.models import DataPlan, DataRef, FileData, HubData, InlineData
from ftlang.plan.rows import MAX_ROW_BYTES, BadFile, RowRules, csv_rows, read_line
from ftlang.runtime.data.filters import ExprError, matches
from ftlang.runtime.data.hub import hub_rows
from ftlang.runtime.errors import RunError

# How many skipped rows a run keeps, with their reason, for the lock and the report.
_KEEP_BAD = 20


@dataclass(frozen=True)
class Row:
    """One data row and where it came from (`file:line`, `file row N`, `name.rows[i]`)."""

    values: dict[str, Any]
    origin: str


@dataclass
class LoadedData:
    """One data declaration after filters, dedupe and split."""

    name: str
    parts: dict[str, list[Row]]
    all_rows: list[Row]  # every kept row in read order: what `tickets` without a split means
    files: list[dict[str, str]] = field(default_factory=list)  # {"path", "sha256"} read
    stats: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # first bad rows skipped

    def rows(self, split: str | None) -> list[Row]:
        if split is None:
            return self.all_rows
        if split not in self.parts:
            raise RunError(
                f"data `{self.name}` has no split `{split}`", help=f"its splits are: {', '.join(sorted(self.parts))}"
            )
        return self.parts[split]


def canonical_row(values: dict[str, Any]) -> str:
    """The row's identity for splitting: sorted keys, no whitespace, non-JSON as text."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def split_point(values: dict[str, Any], seed: int) -> float:
    """A number in [0, 1) fixed by the seed and the row's content alone."""
    digest = hashlib.sha256(f"{seed}\n{canonical_row(values)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_part(values: dict[str, Any], parts: dict[str, float], seed: int) -> str:
    """The part a row belongs to: cumulative fractions in sorted name order.

    A row's part depends only on its own content, so adding rows never moves others.
    """
    u = split_point(values, seed)
    names = sorted(parts)
    total = 0.0
    for name in names:
        total += parts[name]
        if u < total:
            return name
    return names[-1]  # fractions that sum to 0.999… leave a sliver: give it to the last


# --- readers: each yields (origin, values or None, reason) ------------------------------

Raw = tuple[str, "dict[str, Any] | None", str]


def _read_jsonl(path: Path, shown: str) -> Iterator[Raw]:
    """Rows by the one definition `ft check` applies too (ftlang.plan.rows): NaN, a key twice, a
    line past MAX_ROW_BYTES or bytes that are not UTF-8 are bad rows, located at their line."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_ROW_BYTES + 1), b""), 1):
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                while (rest := f.readline(MAX_ROW_BYTES)) and not rest.endswith(b"\n"):
                    pass  # the rest of an over-long line is no row either
            _, row, problem = read_line(raw)
            if problem is not None:
                yield f"{shown}:{lineno}", None, f"the line {problem}"
            elif row is not None:
                yield f"{shown}:{lineno}", row, ""


def _read_csv(path: Path, shown: str) -> Iterator[Raw]:
    """Records by the rules `ft check` applies too (ftlang.plan.rows): the header's width, UTF-8
    text and no NUL byte, or a bad row at its line; a header naming a column twice stops the read."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        try:
            _, records = csv_rows(f)
            for line, row, problem in records:
                yield f"{shown}:{line}", row, f"the line {problem}" if problem else ""
        except BadFile as exc:
            raise RunError(f"the file {exc.problem}", location=f"{shown}:{exc.line}") from None


def _read_parquet(path: Path, shown: str) -> Iterator[Raw]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a broken file
        raise RunError(f"cannot read parquet file: {e}", location=shown) from None
    for i, values in enumerate(table.to_pylist(), 1):
        yield f"{shown} row {i}", values, ""


def _read_datasets(path: Path, shown: str) -> Iterator[Raw]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # FileNotFoundError, or a folder that is not a saved dataset
        raise RunError(
            f"not a saved `datasets` folder: {e}", location=shown, help="write it with `Dataset.save_to_disk(path)`"
        ) from None
    # A DatasetDict's own splits are read in name order and concatenated; the recipe's
    # `split` decides train/eval, not the folder's.
    parts = [(f"{shown}[{k}]", ds[k]) for k in sorted(ds)] if isinstance(ds, datasets.DatasetDict) else [(shown, ds)]
    for label, d in parts:
        for i, values in enumerate(d.to_list(), 1):
            yield f"{label} row {i}", values, ""


_READERS = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet, "datasets": _read_datasets}


def resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(root) / p


def _source_rows(dp: DataPlan, root: Path) -> tuple[Iterator[Raw], list[dict[str, str]]]:
    src = dp.source
    if isinstance(src, InlineData):
        return ((f"{dp.name}.rows[{i}]", dict(r), "") for i, r in enumerate(src.rows)), []
    if isinstance(src, HubData):
        return hub_rows(src, dp.name)
    assert isinstance(src, FileData)
    path = resolve(root, src.path)
    if not path.exists():
        raise RunError(
            f"data file not found: {src.path}",
            location=f"data `{dp.name}`",
            help=f"paths resolve against the recipe folder {root}",
        )
    if src.kind == "datasets" and not path.is_dir():
        raise RunError(f"`datasets` expects a folder, {src.path} is a file", location=f"data `{dp.name}`")
    if src.kind != "datasets" and path.is_dir():
        raise RunError(f"`{src.kind}` expects a file, {src.path} is a folder", location=f"data `{dp.name}`")
    if not path.is_dir() and not path.is_file():  # a FIFO or a device would block, or never end
        raise RunError(f"{src.path} is not a regular file (a pipe or a device)", location=f"data `{dp.name}`")
    # The compiler's own content hash, so the pin it wrote at check time compares exactly.
    digest = sha256_path(path)
    # A plan run later must see the bytes that were checked, or it would silently train on
    # other data than was reviewed.
    if src.sha256 and src.sha256 != digest:
        raise RunError(
            f"{src.path} changed since the plan was made (sha256 {digest[:12]}…, plan pinned {src.sha256[:12]}…)",
            location=f"data `{dp.name}`",
            help="re-run `ft plan` to pin the new content",
        )
    return _READERS[src.kind](path, src.path), [{"path": src.path, "sha256": digest}]


class RowStream:
    """One pass over a data declaration: validate, filter, dedupe and assign each row a part.

    Iterating yields `(part, row)` for each kept row in read order; `stats` and `skipped` fill
    in as it goes. Memory stays bounded: dedupe keeps a 16-byte digest per distinct key.
    `required` are the fields the prompt uses, `text` those its templates render: the row rules
    `ft check` runs on the rows it reads (ftlang.plan.rows.RowRules) run here on every row.
    Malformed rows raise RunError at their `file:line`, or are skipped and counted when the data
    says `bad_rows = skip`.
    """

    def __init__(self, dp: DataPlan, root: Path | str, required: Sequence[str] = (), text: Sequence[str] = ()):
        self.dp, self.rules = dp, RowRules(required, text)
        self.raw, self.files = _source_rows(dp, Path(root))
        self.stats = {"read": 0, "after_where": 0, "filtered_out": 0, "duplicates": 0, "bad_rows_skipped": 0}
        self.skipped: list[dict[str, str]] = []

    def _bad(self, where: str, reason: str) -> None:
        if self.dp.bad_rows == "error":
            raise RunError(reason, location=where, help=f"fix the row, or let data `{self.dp.name}` skip bad rows")
        self.stats["bad_rows_skipped"] += 1
        if len(self.skipped) < _KEEP_BAD:
            self.skipped.append({"location": where, "reason": reason})

    def _problem(self, values: dict[str, Any], where: str) -> str | None:
        """Why a row that passed the filters cannot be used, or None."""
        absent = [f for f in self.dp.dedupe if f not in values]
        if absent:
            return f"the row has no field `{absent[0]}`, which dedupe uses"
        fault = self.rules.fault(values, where)
        return None if fault is None else f"the row {fault[1]}"

    def __iter__(self) -> Iterator[tuple[str, Row]]:
        dp, seen = self.dp, set[bytes]()
        for where, values, reason in self.raw:
            self.stats["read"] += 1
            if values is None:
                self._bad(where, reason)
                continue
            try:
                if dp.where and not matches(dp.where, values):
                    self.stats["filtered_out"] += 1
                    continue
            except ExprError as e:
                self._bad(where, f"the where filter failed: {e}")
                continue
            self.stats["after_where"] += 1
            problem = self._problem(values, where)
            if problem:
                self._bad(where, problem)
                continue
            if dp.dedupe:
                key = hashlib.sha256(canonical_row({f: values[f] for f in dp.dedupe}).encode()).digest()[:16]
                if key in seen:
                    self.stats["duplicates"] += 1
                    continue
                seen.add(key)
            yield assign_part(values, dp.split.parts, dp.split.seed), Row(values, where)


def load_data(dp: DataPlan, root: Path | str, required: Sequence[str] = (), text: Sequence[str] = ()) -> LoadedData:
    """Read, validate, filter, dedupe and split one data declaration into memory.

    For small data (guards, re-evaluation); a run's training data goes through the Arrow
    engine (`engine.prepare_rows`), which makes the same pass without holding the rows.
    """
    stream = RowStream(dp, root, required, text)
    parts: dict[str, list[Row]] = {name: [] for name in sorted(dp.split.parts)}
    kept: list[Row] = []
    for part, row in stream:
        parts[part].append(row)
        kept.append(row)
    stats = {**stream.stats, "kept": len(kept), **{f"split_{k}": len(v) for k, v in parts.items()}}
    return LoadedData(dp.name, parts, kept, stream.files, stats, stream.skipped)


def select(loaded: dict[str, LoadedData], ref: DataRef) -> list[Row]:
    """The rows a `DataRef` names; `split=None` is the whole data."""
    if ref.data not in loaded:
        raise RunError(f"no data named `{ref.data}` was loaded")
    return loaded[ref.data].rows(ref.split)
