"""Which method module builds a plan's Workload, by the method's catalogue name: sft (full, LoRA) for the rest."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from ftlang.plan.models import Plan
from ftlang.runtime.data.rows import RunRows
from ftlang.runtime.methods.dpo import dpo_workload
from ftlang.runtime.methods.grpo import grpo_workload
from ftlang.runtime.methods.kto import kto_workload
from ftlang.runtime.methods.orpo import OrpoObjective
from ftlang.runtime.methods.reference_free import reference_free_workload
from ftlang.runtime.methods.reward_model import reward_workload
from ftlang.runtime.methods.sft import sft_workload
from ftlang.runtime.methods.simpo import SimpoObjective
from ftlang.runtime.methods.workload import Workload, WorkloadInputs, in_precision
from ftlang.runtime.train.precision import Precision

# Methods with a module of their own; full and LoRA are supervised fine-tuning.
WORKLOADS: dict[str, Callable[[WorkloadInputs], Workload]] = {
    "dpo": dpo_workload,
    "grpo": grpo_workload,
    "kto": kto_workload,
    "orpo": partial(reference_free_workload, objective=OrpoObjective),
    "reward": reward_workload,
    "simpo": partial(reference_free_workload, objective=SimpoObjective),
}


def build_workload(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    rows: RunRows,
    max_len: int,
    pad_id: int,
    device: torch.device,
    precision: Precision,
) -> Workload:
    """The method's items, collator, objective and evaluation for the model already on `device`.

    Every forward pass runs in the run's `precision`, the reference's and the evaluation's as the
    policy's: those made while building (DPO's precomputed reference) and those the workload makes.
    """
    inputs = WorkloadInputs(plan, model, tokenizer, rows, max_len, pad_id, device)
    with precision.autocast():
        work = WORKLOADS.get(plan.method.kind, sft_workload)(inputs)
    return in_precision(work, precision)
