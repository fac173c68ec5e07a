"""What a method hands the training loop: model, items, collator, objective and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import torch

from ftlang.plan.models import Plan
from ftlang.runtime.data.prompts import Rendered
from ftlang.runtime.data.rows import RunRows
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.adapters import MethodInfo, apply_method
from ftlang.runtime.sampling import SamplingSeeds
from ftlang.runtime.train.loop import Objective
from ftlang.runtime.train.precision import Precision
from ftlang.runtime.train.prefetch import runs_model

Item = TypeVar("Item")
Stats = TypeVar("Stats")


@dataclass
class Workload:
    """Everything method-specific that run.py needs; the rest of a run is the same for all methods.

    `items` are what the data order permutes (sequences, preference pairs or prompts), and
    `collator` turns a slice of them into a micro-batch that `objective` scores. `summary`
    adds what the method trained on to summary.json; `seeds` key the method's own sampling
    (GRPO's) by the step, which the loop sets.
    """

    model: Any
    method: MethodInfo
    items: Sequence[Any]
    collator: Callable[[Sequence[Any]], Any]
    objective: Objective
    evaluate: Callable[[], dict[str, Any]] | None
    summary: dict[str, Any] = field(default_factory=dict)
    seeds: SamplingSeeds | None = None
    saved_model: Callable[[], Any] | None = None  # what model/ holds, when not the trained model itself


def in_precision(work: Workload, precision: Precision) -> Workload:
    """`work` with its forward passes outside the loop's objective in the run's precision, as the
    objective's are: the method's evaluation, and a collator that runs the model (GRPO samples its
    rollouts and scores them with the reference as it collates). Any other collator runs none and is
    left as it is, its `runs_model` marker with it, so the loop can prefetch its batches."""
    collator = precision.around(work.collator) if runs_model(work.collator) else work.collator
    evaluate = precision.around(work.evaluate) if work.evaluate else None
    return replace(work, collator=collator, evaluate=evaluate)


@dataclass(frozen=True)
class WorkloadInputs:
    """What every method builds its workload from: the plan, the model already on `device`, its tokenizer,
    the run's rendered rows, the sequence length and the pad id."""

    plan: Plan
    model: Any
    tokenizer: Any
    rows: RunRows
    max_len: int
    pad_id: int
    device: torch.device

    @property
    def batch_size(self) -> int:
        """Rows per forward pass: the micro-batch, or the whole batch when there is none."""
        return self.plan.train.micro_batch or self.plan.train.batch


@dataclass(frozen=True)
class Prepared(Generic[Item, Stats]):
    """The tokenised train and eval items with their statistics, and the model with its adapter."""

    model: Any
    method: MethodInfo
    train: Sequence[Item]
    eval: Sequence[Item]
    train_stats: Stats
    eval_stats: Stats


def prepare(
    inputs: WorkloadInputs,
    tokenize: Callable[[Sequence[Rendered]], tuple[Sequence[Item], Stats]],
    lost: str,
    task: str | None = None,
) -> Prepared[Item, Stats]:
    """Every method's first steps: tokenise the train and eval rows, refuse a run whose training items
    truncation emptied (`lost` says what each lost), then attach the adapter the method names.

    `task` is the kind of model the method trains, when not the prompt's (a reward model's head).
    """
    train, train_stats = tokenize(inputs.rows.train)
    evaluated, eval_stats = tokenize(inputs.rows.eval)
    if not len(train):
        raise RunError(
            f"every training {lost} to truncation at max_len {inputs.max_len}",
            help="raise max_len or shorten the prompt",
        )
    model, info = apply_method(inputs.model, inputs.plan.method, task or inputs.plan.prompt.task)
    return Prepared(model, info, train, evaluated, train_stats, eval_stats)


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
