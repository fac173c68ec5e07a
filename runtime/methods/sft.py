"""Supervised fine-tuning (full or LoRA): tokenised examples, packed or one per sequence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ftlang.plan.models import Plan
from ftlang.runtime.data.batching import Collator, Item, pack, singles
from ftlang.runtime.data.prompts import Rendered, tokenize
from ftlang.runtime.data.tokenized import RenderedTable
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.adapters import apply_method
from ftlang.runtime.methods.workload import Workload
from ftlang.runtime.train.loop import lm_objective


def sft_workload(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    train_r: Sequence[Rendered],
    eval_r: Sequence[Rendered],
    max_len: int,
    pad_id: int,
    labels: Sequence[str] | None,
) -> Workload:
    """Tokenise the examples, attach the adapter, pack when asked; what run.py trains."""
    task = plan.prompt.task
    packed = plan.train.pack and task != "classification"
    items: Sequence[Item]
    if isinstance(train_r, RenderedTable):  # a run's rows: tokenized and packed through the cache
        train_ex = train_r.tokenized(tokenizer, task, max_len, labels)
        tstats = train_ex.stats
        items = train_r.items(train_ex, max_len if packed else None)
    else:
        train_list, tstats = tokenize(train_r, tokenizer, task, max_len, labels)
        train_ex, items = train_list, pack(train_list, max_len) if packed else singles(train_list)
    eval_ex, estats = tokenize(eval_r, tokenizer, task, max_len, labels)
    if not len(train_ex):
        raise RunError(
            f"every training example lost its target to truncation at max_len {max_len}",
            help="raise max_len or shorten the prompt",
        )
    model, info = apply_method(model, plan.method, task)
    attn = getattr(model.config, "_attn_implementation", None)
    collator = Collator(task, pad_id, packed, attn, next(model.parameters()).dtype)
    # The eval block's Evaluator (evaluation/during_run.py) measures supervised runs: no metrics of its own.
    return Workload(
        model,
        info,
        items,
        collator,
        lm_objective(task),
        None,
        summary={
            "train_examples": len(train_ex),
            "eval_examples": len(eval_ex),
            "packed": packed,
            "train_tokens": tstats.tokens,
            "truncated": tstats.truncated + estats.truncated,
            "dropped_no_target": tstats.dropped_no_target + estats.dropped_no_target,
        },
    )
