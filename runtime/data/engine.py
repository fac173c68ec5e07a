"""The data engine's first stage: a declaration's kept rows as a memory-mapped Arrow table, cached.

One streaming pass (`sources.RowStream`: read, validate, `where`, dedupe, split) writes each
kept row as canonical JSON beside its origin (`file:line`), so memory holds one write batch,
not the data. The table is cached under a key of everything the pass depends on: the
declaration (source, filters, dedupe, split, bad_rows), the data's content hash (or a hub
dataset's fingerprint), the fields the prompt requires and the engine version.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftlang.plan.models import DataPlan
from ftlang.runtime.data.cache import DataCache, content_key
from ftlang.runtime.data.sources import Row, RowStream, canonical_row
from ftlang.runtime.errors import RunError

_WRITE_BATCH = 10_000
ROWS_FILE = "rows.arrow"


def progress_bar(desc: str, total: int | None, quiet: bool) -> Any:
    """A tqdm bar on stderr, the kind `datasets` shows for its own stages."""
    from tqdm.auto import tqdm

    return tqdm(desc=desc, total=total, unit=" rows", disable=quiet, leave=True, dynamic_ncols=True)


@dataclass
class RowTable:
    """One data declaration's kept rows on disk; `rows(split)` as LoadedData offers them."""

    name: str
    folder: Path
    key: str
    files: list[dict[str, str]]
    stats: dict[str, int]
    skipped: list[dict[str, str]] = field(default_factory=list)
    cached: bool = False
    declaration: dict[str, Any] = field(default_factory=dict)  # the DataPlan's JSON: what `ft plan` looks up
    _table: Any = field(default=None, repr=False)

    @property
    def table(self) -> Any:
        """The memory-mapped `datasets.Dataset` (columns `row`, `origin`), opened once."""
        if self._table is None:
            import datasets

            self._table = datasets.Dataset.from_file(str(self.folder / ROWS_FILE))
        return self._table

    @property
    def parts(self) -> list[str]:
        return sorted(k.removeprefix("split_") for k in self.stats if k.startswith("split_"))

    def _check(self, split: str | None) -> None:
        if split is not None and split not in self.parts:
            raise RunError(
                f"data `{self.name}` has no split `{split}`", help=f"its splits are: {', '.join(self.parts)}"
            )

    def indices(self, split: str | None) -> np.ndarray | None:
        self._check(split)
        return None if split is None else np.load(self.folder / f"part-{split}.npy")

    def dataset(self, split: str | None) -> Any:
        """The split's rows as a `datasets.Dataset` (an index view; nothing is copied)."""
        idx = self.indices(split)
        return self.table if idx is None else self.table.select(idx)

    def count(self, split: str | None) -> int:
        self._check(split)
        return self.stats["kept"] if split is None else self.stats[f"split_{split}"]

    def iter_rows(self, split: str | None) -> Iterator[Row]:
        for batch in self.dataset(split).iter(batch_size=1000):
            for text, origin in zip(batch["row"], batch["origin"], strict=True):
                yield Row(json.loads(text), origin)

    def rows(self, split: str | None) -> list[Row]:
        """Every row of the split in memory: for the small sets (eval) that are used as lists."""
        return list(self.iter_rows(split))


def prepare_rows(
    dp: DataPlan, root: Path | str, required: Sequence[str], cache: DataCache, text: Sequence[str] = ()
) -> RowTable:
    """The kept rows of `dp`, from the cache when the same inputs were prepared before.

    `required` are the fields the run reads, `text` those the prompt prints (see RowStream)."""
    stream = RowStream(dp, root, required, text)
    declaration = dp.model_dump(mode="json", exclude={"fields"})
    key = content_key("rows", declaration, stream.files, sorted(set(required)), sorted(set(text)))
    found = cache.lookup("rows", key)
    cached = found is not None
    if found is not None:
        cache.say(f"data {dp.name}: {cache.meta(found)['stats']['kept']:,} rows from the cache ({found.name})")
    else:
        found = cache.build("rows", key, lambda folder: _write_rows(stream, folder, cache.quiet))
    meta = cache.meta(found)
    cache.record_counts(declaration, stats=meta["stats"])
    return RowTable(dp.name, found, key, stream.files, meta["stats"], meta["skipped"], cached, declaration)


def _write_rows(stream: RowStream, folder: Path, quiet: bool) -> dict[str, Any]:
    from datasets import Features, Value
    from datasets.arrow_writer import ArrowWriter

    parts = {name: array("q") for name in sorted(stream.dp.split.parts)}
    batch: dict[str, list[str]] = {"row": [], "origin": []}
    kept = 0
    features = Features({"row": Value("string"), "origin": Value("string")})
    with (
        ArrowWriter(features=features, path=str(folder / ROWS_FILE)) as writer,
        progress_bar(f"Reading {stream.dp.name}", None, quiet) as bar,
    ):
        for part, row in stream:
            batch["row"].append(canonical_row(row.values))
            batch["origin"].append(row.origin)
            parts[part].append(kept)
            kept += 1
            if kept % _WRITE_BATCH == 0:
                writer.write_batch(batch)
                batch = {"row": [], "origin": []}
                bar.update(_WRITE_BATCH)
        writer.write_batch(batch)
        bar.update(kept % _WRITE_BATCH)
        writer.finalize()
    for name, idx in parts.items():
        np.save(folder / f"part-{name}.npy", np.frombuffer(idx, dtype=np.int64) if idx else np.zeros(0, np.int64))
    stats = {**stream.stats, "kept": kept, **{f"split_{k}": len(v) for k, v in parts.items()}}
    return {"stats": stats, "skipped": stream.skipped}
