"""What ORPO, SimPO and reward models share: pairs scored without a reference model, and their workload."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from ftlang.runtime.data.batching import Batch
from ftlang.runtime.methods.dpo import PAIR_LOST, PairCollator, evaluate_pairs, tokenize_pairs
from ftlang.runtime.methods.policy import target_mask, token_logps
from ftlang.runtime.methods.workload import Workload, WorkloadInputs, prepare, token_summary
from ftlang.runtime.train.loop import Objective


def average_logps(model: torch.nn.Module, seqs: Batch) -> torch.Tensor:
    """Each sequence's mean log-probability per answer token (its EOS included)."""
    logps = token_logps(model, seqs)
    return logps.sum(-1) / target_mask(seqs).sum(-1).clamp(min=1)


def reference_free_workload(
    inputs: WorkloadInputs, *, objective: Callable[[Any], Objective], task: str | None = None
) -> Workload:
    """Tokenise the pairs and attach the adapter; `objective(method)` scores them, no reference is kept.

    `task` is the kind of model the method trains, when not the prompt's (a reward model's head).
    """
    tokenized = partial(tokenize_pairs, tokenizer=inputs.tokenizer, max_len=inputs.max_len)
    ready = prepare(inputs, tokenized, PAIR_LOST, task)
    model, eval_pairs = ready.model, ready.eval
    score, collate = objective(inputs.plan.method), PairCollator(inputs.pad_id)
    batch_size, device = inputs.batch_size, inputs.device
    evaluate = (
        (lambda: evaluate_pairs(model, eval_pairs, score, collate, batch_size, device))  # type: ignore[arg-type]
        if eval_pairs
        else None
    )
    return Workload(
        model,
        ready.method,
        ready.train,
        collate,
        score,
        evaluate,
        summary=token_summary(ready.train, eval_pairs, ready.train_stats, ready.eval_stats),
    )
