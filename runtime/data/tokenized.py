"""The data engine's later stages: rendered rows, tokenized examples and packs, each an Arrow table, cached.

Each stage is a batched `datasets.Dataset.map` over the memory-mapped table before it, written
to a cache entry keyed by the earlier stage's key and what this stage adds: the prompt for
rendering; the tokenizer's content, task, max_len and labels for tokens; max_len for packs.
The prompt's own functions (`Renderer.render`, `tokenize`) do the work a batch at a time.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from ftlang.runtime.data.batching import Item, best_fit
from ftlang.runtime.data.cache import DataCache, content_key, tokenizer_digest
from ftlang.runtime.data.engine import RowTable
from ftlang.runtime.data.prompts import Example, Rendered, Renderer, TokenStats, tokenize
from ftlang.runtime.data.sources import Row
from ftlang.runtime.errors import RunError

_KEEP_BAD = 20


def _map_to_file(source: Any, fn: Any, features: Any, path: Path, desc: str) -> None:
    """`source.map(fn)` in batches, written to `path`; an empty source still leaves an empty table."""
    if len(source) == 0:  # `map` writes no file for an empty input
        from datasets.arrow_writer import ArrowWriter

        with ArrowWriter(features=features, path=str(path)) as writer:
            writer.finalize()
        return
    source.map(
        fn,
        batched=True,
        remove_columns=source.column_names,
        features=features,
        cache_file_name=str(path),
        new_fingerprint=path.parent.name,
        desc=desc,
    )


_RENDERED_FIELDS = tuple(f.name for f in dataclasses.fields(Rendered))


def freeze(r: Rendered, keep_row: bool = True) -> str:
    """JSON of a Rendered; without `keep_row` its data row is left out (only GRPO's rewards read it,
    and it would double the table)."""
    # Field by field, not dataclasses.asdict: its deep copy of every row cost a fifth of tokenizing.
    fields = _RENDERED_FIELDS if keep_row else tuple(k for k in _RENDERED_FIELDS if k != "row")
    return json.dumps({k: getattr(r, k) for k in fields}, ensure_ascii=False, default=_plain)


def _plain(v: Any) -> Any:
    return dict(v) if isinstance(v, Mapping) else str(v)


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def thaw(text: str) -> Rendered:
    """A Rendered back from `freeze`: lists become the tuples the dataclass holds; `row` stays a dict."""
    d = json.loads(text)
    return Rendered(**{k: (v if k == "row" else _tuples(v)) for k, v in d.items()})


@dataclass
class RenderedTable(Sequence[Rendered]):
    """One split's rendered rows, memory-mapped; indexing and iteration thaw them one by one."""

    name: str
    key: str
    table: Any
    cache: DataCache
    source: RowTable  # the rows it was rendered from
    split: str | None = None
    skip_bad: bool = False  # the data's `bad_rows = skip`: a failing row is dropped, not an error
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.table)

    @overload
    def __getitem__(self, i: int) -> Rendered: ...
    @overload
    def __getitem__(self, i: slice) -> list[Rendered]: ...
    def __getitem__(self, i: int | slice) -> Rendered | list[Rendered]:
        if isinstance(i, slice):
            return [thaw(t) for t in self.table[i]["rendered"]]
        return thaw(self.table[int(i)]["rendered"])

    def __iter__(self) -> Iterator[Rendered]:
        for batch in self.table.iter(batch_size=1000):
            yield from (thaw(t) for t in batch["rendered"])

    def labels(self) -> list[str]:
        """Sorted distinct labels (classification), read without holding the rows."""
        return sorted({r.label for r in self})

    def tokenized(self, tokenizer: Any, task: str, max_len: int, labels: Sequence[str] | None) -> ExampleTable:
        return tokenize_table(self, tokenizer, task, max_len, labels, self.skip_bad, self.cache)

    def items(self, examples: ExampleTable, pack_to: int | None) -> PackedItems:
        return items_of(examples, pack_to, self.cache)


def render_table(
    rows: RowTable, split: str | None, renderer: Renderer, skip_bad: bool, cache: DataCache
) -> RenderedTable:
    """The split's rows through the prompt; a failing row raises at its origin, or is skipped."""
    shown = rows.name + (f".{split}" if split else "")
    key = content_key(
        "rendered", rows.key, split, renderer.prompt.model_dump(mode="json"), skip_bad, _keeps_row(renderer)
    )
    found = cache.lookup("rendered", key)
    if found is None:
        found = cache.build("rendered", key, lambda f: _render(rows, split, renderer, skip_bad, f, shown, cache))
    import datasets

    table = datasets.Dataset.from_file(str(found / "rendered.arrow"))
    return RenderedTable(shown, key, table, cache, rows, split, skip_bad, cache.meta(found)["skipped"])


def _keeps_row(renderer: Renderer) -> bool:
    """GRPO scores completions against the data row, from a generation or a completion prompt."""
    return renderer.prompt.task in ("generation", "completion")


def _render(
    rows: RowTable, split: str | None, renderer: Renderer, skip_bad: bool, folder: Path, shown: str, cache: DataCache
) -> dict[str, Any]:
    from datasets import Features, Value

    skipped: list[dict[str, str]] = []
    keep_row = _keeps_row(renderer)

    def batch(b: dict[str, list[Any]]) -> dict[str, list[str]]:
        done, dropped = renderer.render_all(
            [Row(json.loads(t), o) for t, o in zip(b["row"], b["origin"], strict=True)], skip_bad
        )
        skipped.extend(dropped)
        return {"rendered": [freeze(r, keep_row) for r in done], "origin": [r.origin for r in done]}

    features = Features({"rendered": Value("string"), "origin": Value("string")})
    with cache.bars():
        _map_to_file(rows.dataset(split), batch, features, folder / "rendered.arrow", f"Rendering {shown}")
    return {"skipped": skipped[:_KEEP_BAD], "skipped_count": len(skipped)}


@dataclass
class ExampleTable(Sequence[Example]):
    """Tokenized examples, memory-mapped; `lengths` for packing, `stats` for the summary."""

    key: str
    table: Any
    lengths: np.ndarray
    stats: TokenStats
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lengths)

    @overload
    def __getitem__(self, i: int) -> Example: ...
    @overload
    def __getitem__(self, i: slice) -> list[Example]: ...
    def __getitem__(self, i: int | slice) -> Example | list[Example]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        r = self.table[int(i)]
        return Example(list(r["input_ids"]), list(r["labels"]), r["origin"])


def tokenize_table(
    rendered: RenderedTable,
    tokenizer: Any,
    task: str,
    max_len: int,
    labels: Sequence[str] | None,
    skip_bad: bool,
    cache: DataCache,
) -> ExampleTable:
    """Token ids and loss labels of every rendered row, from the cache when the inputs match."""
    key = content_key("tokens", rendered.key, tokenizer_digest(tokenizer), task, max_len, list(labels or []))
    found = cache.lookup("tokens", key)
    if found is not None:
        cache.say(f"data {rendered.name}: tokenized rows from the cache ({found.name})")
    else:
        found = cache.build(
            "tokens", key, lambda folder: _tokenize(rendered, tokenizer, task, max_len, labels, skip_bad, folder)
        )
    import datasets

    meta = cache.meta(found)
    part = rendered.split or "all"
    cache.record_counts(rendered.source.declaration, tokens={part: meta["stats"]["tokens"]}, max_len=max_len)
    table = datasets.Dataset.from_file(str(found / "tokens.arrow"))
    return ExampleTable(key, table, np.load(found / "lengths.npy"), TokenStats(**meta["stats"]), meta["skipped"])


def keep_known_labels(
    rendered: Sequence[Rendered], labels: Sequence[str], skip: bool, skipped: list[dict[str, str]]
) -> list[Rendered]:
    """Classification rows whose label is one of `labels`; another is an error, or skipped with `skip`."""
    known, out = set(labels), []
    for r in rendered:
        if r.label in known:
            out.append(r)
            continue
        reason = f"label `{r.label}` is not one of the prompt's labels ({', '.join(labels)})"
        if not skip:
            raise RunError(reason, location=r.origin, help="fix the row, or add the label to the prompt")
        skipped.append({"location": r.origin, "reason": reason})
    return out


def _tokenize(
    rendered: RenderedTable,
    tokenizer: Any,
    task: str,
    max_len: int,
    labels: Sequence[str] | None,
    skip_bad: bool,
    folder: Path,
) -> dict[str, Any]:
    from datasets import Features, Value
    from datasets import Sequence as ListOf

    total = TokenStats()
    skipped: list[dict[str, str]] = []
    lengths: list[np.ndarray] = []

    def batch(b: dict[str, list[Any]]) -> dict[str, list[Any]]:
        todo = [thaw(t) for t in b["rendered"]]
        if task == "classification":
            todo = keep_known_labels(todo, labels, skip_bad, skipped) if labels is not None else todo
        examples, stats = tokenize(todo, tokenizer, task, max_len, labels)
        for name in ("examples", "tokens", "target_tokens", "truncated", "dropped_no_target"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        total.drops.extend(stats.drops[: max(0, _KEEP_BAD - len(total.drops))])
        lengths.append(np.array([len(e.input_ids) for e in examples], dtype=np.int64))
        return {
            "input_ids": [e.input_ids for e in examples],
            "labels": [e.labels for e in examples],
            "origin": [e.origin for e in examples],
        }

    features = Features(
        {"input_ids": ListOf(Value("int32")), "labels": ListOf(Value("int32")), "origin": Value("string")}
    )
    with rendered.cache.bars():
        _map_to_file(rendered.table, batch, features, folder / "tokens.arrow", f"Tokenizing {rendered.name}")
    np.save(folder / "lengths.npy", np.concatenate(lengths) if lengths else np.zeros(0, np.int64))
    return {"stats": dataclasses.asdict(total), "skipped": skipped[:_KEEP_BAD]}


@dataclass(frozen=True)
class PackedItems(Sequence[Item]):
    """Training sequences over an ExampleTable: `order[starts[i]:starts[i + 1]]` make sequence i."""

    examples: ExampleTable
    order: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i: int) -> Item:  # type: ignore[override]
        return tuple(self.examples[int(j)] for j in self.order[self.starts[i] : self.starts[i + 1]])


def items_of(examples: ExampleTable, max_len: int | None, cache: DataCache) -> PackedItems:
    """One example per sequence (`max_len` None), or best-fit packs of them, cached."""
    n = len(examples)
    if max_len is None:
        return PackedItems(examples, np.arange(n, dtype=np.int64), np.arange(n + 1, dtype=np.int64))
    key = content_key("packs", examples.key, max_len)
    found = cache.lookup("packs", key)
    if found is None:

        def write(folder: Path) -> dict[str, Any]:
            groups = best_fit(examples.lengths.tolist(), max_len)
            np.save(folder / "order.npy", np.fromiter((j for g in groups for j in g), np.int64, n))
            np.save(folder / "starts.npy", np.cumsum([0, *map(len, groups)], dtype=np.int64))
            return {"sequences": len(groups)}

        found = cache.build("packs", key, write)
    return PackedItems(examples, np.load(found / "order.npy"), np.load(found / "starts.npy"))
