"""Training mixtures: which rows of each source an epoch takes, fixed by the seed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftlang.plan.mixture import mixture_sizes, shown
from ftlang.plan.models import DataRef
from ftlang.runtime.data.cache import content_key
from ftlang.runtime.data.tokenized import RenderedTable
from ftlang.runtime.errors import RunError


@dataclass(frozen=True)
class MixedSource:
    """One source of the mixture: the rows it has and the row indices the epoch takes from it."""

    name: str
    available: int
    indices: np.ndarray

    def as_dict(self) -> dict[str, int | str]:
        return {"source": self.name, "available": self.available, "used": len(self.indices)}


def mix(available: Sequence[int], refs: Sequence[DataRef], seed: int) -> list[MixedSource]:
    """Each source's rows, as `plan.mixture.mixture_sizes` counts them.

    A source's rows are shuffled by a generator of its own (the seed and its place in the
    mixture): `max_rows` keeps the first of them; a share below that keeps fewer, a share above
    repeats the whole capped set and then a further sample. Indices come back sorted, so a
    memory-mapped table is read in order.
    """
    sizes = mixture_sizes(available, refs)
    out = []
    for place, (n, ref, want) in enumerate(zip(available, refs, sizes, strict=True)):
        if want and not n:
            raise RunError(
                f"the mixture source `{shown(ref)}` has no rows after filters and splits, yet a weight",
                help="check its where filters and split, or drop it from the mixture",
            )
        rng = np.random.default_rng([seed, place])
        kept = rng.permutation(n)[: ref.max_rows if ref.max_rows is not None else n]
        whole, rest = divmod(want, len(kept)) if len(kept) else (0, 0)
        taken = np.concatenate([np.tile(kept, whole), rng.permutation(kept)[:rest]])
        out.append(MixedSource(shown(ref), n, np.sort(taken).astype(np.int64)))
    return out


def mixed_table(
    tables: Sequence[RenderedTable], refs: Sequence[DataRef], seed: int
) -> tuple[RenderedTable, list[MixedSource]]:
    """One table of the sources' rendered rows as the mixture takes them (repeats included),
    without copying them: a selection of each memory-mapped table, concatenated."""
    import datasets

    sources = mix([len(t) for t in tables], refs, seed)
    parts = [t.table.select(s.indices) for t, s in zip(tables, sources, strict=True) if len(s.indices)]
    first = tables[0]
    key = content_key("mixture", [t.key for t in tables], [r.model_dump(mode="json") for r in refs], seed)
    table = RenderedTable(
        "mixture of " + ", ".join(s.name for s in sources),
        key,
        datasets.concatenate_datasets(parts),
        first.cache,
        first.source,
        skip_bad=any(t.skip_bad for t in tables),
        skipped=[row for t in tables for row in t.skipped],
    )
    return table, sources
