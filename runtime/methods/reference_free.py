"""What ORPO, SimPO and reward models share: pairs scored without a reference model, and their workload."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ftlang.plan.models import MethodPlan, Plan
from ftlang.runtime.data.batching import Batch
from ftlang.runtime.data.prompts import Rendered
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.adapters import apply_method
from ftlang.runtime.methods.dpo import PairCollator, evaluate_pairs, tokenize_pairs
from ftlang.runtime.methods.policy import target_mask, token_logps
from ftlang.runtime.methods.workload import Workload, token_summary
from ftlang.runtime.train.loop import Objective


def average_logps(model: torch.nn.Module, seqs: Batch) -> torch.Tensor:
    """Each sequence's mean log-probability per answer token (its EOS included)."""
    logps = token_logps(model, seqs)
    return logps.sum(-1) / target_mask(seqs).sum(-1).clamp(min=1)


def reference_free_workload(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    train_r: Sequence[Rendered],
    eval_r: Sequence[Rendered],
    max_len: int,
    pad_id: int,
    device: torch.device,
    *,
    objective: Callable[[Any], Objective],
    task: str | None = None,
) -> Workload:
    """Tokenise the pairs and attach the adapter; `objective(method)` scores them, no reference is kept.

    `task` is the kind of model the method trains, when not the prompt's (a reward model's head).
    """
    method: MethodPlan = plan.method
    train_pairs, tstats = tokenize_pairs(train_r, tokenizer, max_len)
    eval_pairs, estats = tokenize_pairs(eval_r, tokenizer, max_len)
    if not train_pairs:
        raise RunError(
            f"every training pair lost an answer to truncation at max_len {max_len}",
            help="raise max_len or shorten the prompt",
        )
    model, info = apply_method(model, method, task or plan.prompt.task)
    score, collate = objective(method), PairCollator(pad_id)
    batch_size = plan.train.micro_batch or plan.train.batch
    evaluate = (
        (lambda: evaluate_pairs(model, eval_pairs, score, collate, batch_size, device))  # type: ignore[arg-type]
        if eval_pairs
        else None
    )
    return Workload(
        model,
        info,
        train_pairs,
        collate,
        score,
        evaluate,
        summary=token_summary(train_pairs, eval_pairs, tstats, estats),
    )
