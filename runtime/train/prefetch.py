"""Prepare the next step's micro-batches on a background thread while this step computes.

Only for collators that do not run the model (`runs_model` is False): such a collator is pure (the
same items always give the same batch, with no random draw), so the batch is the same whichever
thread builds it and prefetching changes the speed, never the result. One that runs the model
(GRPO's rollouts sample from the policy of this very step) collates on the main thread, in step
order. The indices come from DataOrder.upcoming, which peeks without drawing, so the data order and
its checkpointed state are exactly those of a run without prefetching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from ftlang.runtime.data.batching import weighed
from ftlang.runtime.train import distributed

Prepare = Callable[[list[int]], Any]


def runs_model(collator: Callable[[Sequence[Any]], Any]) -> bool:
    """Whether `collator` runs the model as it collates, as its class declares with `runs_model`.

    The one marker both the loop (which prefetches only what does not) and the method's precision
    (which autocasts only what does) read. A collator that does not declare it, a wrapper for one,
    is taken to run the model: kept on the main thread, never prefetched on a guess.
    """
    return bool(getattr(collator, "runs_model", True))


class Prefetcher:
    def __init__(self, prepare: Prepare):
        self.prepare = prepare
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ftlang-prefetch")
        self.pending: tuple[list[int], Future[Any]] | None = None

    def get(self, indices: list[int]) -> Any:
        """The prepared batch for `indices`: the prefetched one when it is for these indices."""
        pending, self.pending = self.pending, None
        if pending is not None:
            ahead, future = pending
            result = future.result()  # waits, and raises what the thread raised
            if ahead == indices:
                return result
        return self.prepare(indices)

    def ahead(self, indices: list[int] | None) -> None:
        """Start preparing the step after this one (None: not known without a draw)."""
        if indices:
            self.pending = (indices, self.pool.submit(self.prepare, indices))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending = None


def preparer(
    items: Sequence[Any],
    collator: Callable[[Sequence[Any]], Any],
    micro: int,
    world: int,
    rank: int,
    device: torch.device,
) -> Prepare:
    """Indices of a step -> this rank's (micro-batch on the device, weight) pairs."""

    def prepare(idx: list[int]) -> list[tuple[Any, int]]:
        shards = distributed.split_batch([items[i] for i in idx], micro, world)
        own = distributed.own_micro_batches(shards, rank)
        return [(weighed(collator(part), weight).to(device), weight) for part, weight in own]

    return prepare
