"""How many rows each source of a training mixture gives an epoch: read by `ft plan` and the run alike."""

from __future__ import annotations

from collections.abc import Sequence

from .models import DataRef


def shown(ref: DataRef) -> str:
    """A source as a recipe writes it: `chats.train`, or `general` for all its rows."""
    return ref.data + (f".{ref.split}" if ref.split else "")


def mixture_sizes(available: Sequence[int], refs: Sequence[DataRef]) -> list[int]:
    """Rows each source gives an epoch, from the rows it has.

    `max_rows` caps a source first. Without weights, each source gives what it has (after its
    cap). With weights, an epoch keeps the sources' total and each source's share of it is its
    weight over the weights' sum: a source with fewer rows than its share repeats rows, one with
    more gives a sample of them.
    """
    capped = [min(n, ref.max_rows) if ref.max_rows is not None else n for n, ref in zip(available, refs, strict=True)]
    if not any(ref.weight for ref in refs):
        return capped
    total, weights = sum(capped), [ref.weight or 0.0 for ref in refs]
    return [round(total * w / sum(weights)) for w in weights]
