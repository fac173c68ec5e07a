"""What a method hands the training loop: model, items, collator, objective and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ftlang.runtime.methods.adapters import MethodInfo
from ftlang.runtime.train.loop import Objective


@dataclass
class Workload:
    """Everything method-specific that run.py needs; the rest of a run is the same for all methods.

    `items` are what the data order permutes (sequences, preference pairs or prompts), and
    `collator` turns a slice of them into a micro-batch that `objective` scores. `summary`
    adds what the method trained on to summary.json; `rng` is a generator of the method's
    own (GRPO's sampling) that checkpoints save and restore.
    """

    model: Any
    method: MethodInfo
    items: Sequence[Any]
    collator: Callable[[Sequence[Any]], Any]
    objective: Objective
    evaluate: Callable[[], dict[str, Any]] | None
    summary: dict[str, Any] = field(default_factory=dict)
    rng: torch.Generator | None = None
    saved_model: Callable[[], Any] | None = None  # what model/ holds, when not the trained model itself


def token_summary(
    train: Sequence[Any], evaluated: Sequence[Any], train_stats: dict[str, int], eval_stats: dict[str, int]
) -> dict[str, Any]:
    """What summary.json says of the tokenised items: counts, truncations, rows dropped by truncation."""
    return {
        "train_examples": len(train),
        "eval_examples": len(evaluated),
        "truncated": train_stats["truncated"] + eval_stats["truncated"],
        "dropped_no_target": train_stats["dropped_no_target"] + eval_stats["dropped_no_target"],
    }
