"""Which method module builds a plan's Workload: sft (full, LoRA), dpo or grpo."""

from __future__ import annotations

from typing import Any

import torch

from ftlang.plan.models import DpoMethod, GrpoMethod, Plan
from ftlang.runtime.data.rows import RunRows
from ftlang.runtime.methods.dpo import dpo_workload
from ftlang.runtime.methods.grpo import grpo_workload
from ftlang.runtime.methods.sft import sft_workload
from ftlang.runtime.methods.workload import Workload


def build_workload(
    plan: Plan, model: Any, tokenizer: Any, rows: RunRows, max_len: int, pad_id: int, device: torch.device
) -> Workload:
    """The method's items, collator, objective and evaluation for the model already on `device`."""
    if isinstance(plan.method, DpoMethod):
        return dpo_workload(plan, model, tokenizer, rows.train, rows.eval, max_len, pad_id, device)
    if isinstance(plan.method, GrpoMethod):
        return grpo_workload(plan, model, tokenizer, rows.train, rows.eval, max_len, pad_id, device)
    return sft_workload(plan, model, tokenizer, rows.train, rows.eval, max_len, pad_id, rows.labels)
