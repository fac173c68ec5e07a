"""Bit-identical reruns: seeds, deterministic kernels, and the intra-op thread count on CPU."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from ftlang.runtime.pins import make_deterministic


def cpu_threads() -> int:
    """Intra-op threads for a CPU run: all usable cores but one, unless OMP_NUM_THREADS says.

    On a 2-core machine that other processes also use, two OpenMP threads wait on each
    other at every barrier: the quickstart measured 3x slower with 2 threads than with 1.
    Leaving a core free costs little on a quiet machine and avoids that cliff.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(torch.get_num_threads(), cores - 1))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def settle(device: torch.device, seed: int, threads: int | None, deterministic: bool = False) -> None:
    """Seed every generator; deterministic kernels on CPU, and on a GPU when the plan asks.

    `threads` is the count a resumed run started with: the same count keeps CPU float sums
    bit-identical. None picks `cpu_threads()`.
    """
    seed_everything(seed)
    if device.type == "cpu" or deterministic:
        make_deterministic(device)
    if device.type == "cpu":
        torch.set_num_threads(threads or cpu_threads())


@contextmanager
def torch_settings_restored() -> Iterator[None]:
    """A run changes process-wide torch settings; the caller (a test, a sweep) gets them back."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)
