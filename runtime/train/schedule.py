"""Learning-rate schedules: warm-up, then constant, linear or cosine decay to the last step."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ftlang.plan.models import Schedule


def warmup_steps(schedule: Schedule, total: int) -> int:
    """`warmup` < 1 is a fraction of all steps (rounded), >= 1 a number of steps."""
    w = schedule.warmup
    n = round(w * total) if w < 1 else int(w)
    return min(n, total)


# After warm-up, by the schedule's catalogue name: the share of the decay done → lr multiplier.
DECAYS: dict[str, Callable[[float], float]] = {
    "constant": lambda progress: 1.0,
    "linear": lambda progress: max(0.0, 1.0 - progress),
    "cosine": lambda progress: 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))),
}


def lr_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """Multiplier of the peak lr for 0-based optimizer step `step`.

    Warm-up climbs linearly to 1 over `warmup` steps (the first step already moves);
    then constant stays at 1, linear falls to 0 and cosine follows half a cosine to 0
    at `total`.
    """
    if step < warmup:
        return (step + 1) / warmup
    return DECAYS[kind]((step - warmup) / max(1, total - warmup))


def make_scheduler(
    optimizer: torch.optim.Optimizer, total: int, warmup: int, kind: str
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup, kind))
