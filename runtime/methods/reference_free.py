"""What ORPO and SimPO share: length-normalised log-probabilities of pairs, and their workload."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ftlang.plan.models import Plan
from ftlang.runtime.data.batching import Batch
from ftlang.runtime.data.prompts import Rendered
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.adapters import apply_method
from ftlang.runtime.methods.dpo import PairCollator, evaluate_pairs, tokenize_pairs
from ftlang.runtime.methods.policy import target_mask, token_logps
from ftlang.runtime.methods.workload import Workload
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
    objective: Callable[[], Objective],
) -> Workload:
    """Tokenise the pairs and attach the adapter; no reference model is kept."""
    train_pairs, tstats = tokenize_pairs(train_r, tokenizer, max_len)
    eval_pairs, estats = tokenize_pairs(eval_r, tokenizer, max_len)
    if not train_pairs:
        raise RunError(
            f"every training pair lost an answer to truncation at max_len {max_len}",
            help="raise max_len or shorten the prompt",
        )
    model, info = apply_method(model, plan.method, plan.prompt.task)
    score, collate = objective(), PairCollator(pad_id)
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
        summary={
            "train_examples": len(train_pairs),
            "eval_examples": len(eval_pairs),
            "truncated": tstats["truncated"] + estats["truncated"],
            "dropped_no_target": tstats["dropped_no_target"] + estats["dropped_no_target"],
        },
    )
