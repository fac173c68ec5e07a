"""Supervised fine-tuning (full or LoRA): tokenised examples, packed or one per sequence."""

from __future__ import annotations

from collections.abc import Sequence

from ftlang.runtime.data.batching import Collator
from ftlang.runtime.data.prompts import Example, Rendered, TokenStats, tokenize
from ftlang.runtime.data.tokenized import RenderedTable
from ftlang.runtime.methods.workload import Workload, WorkloadInputs, prepare
from ftlang.runtime.train.loop import lm_objective


def sft_workload(inputs: WorkloadInputs) -> Workload:
    """Tokenise the examples (the training rows through the cache), attach the adapter, pack when asked."""
    task, max_len, labels = inputs.plan.prompt.task, inputs.max_len, inputs.rows.labels
    packed = inputs.plan.train.pack and task != "classification"

    def tokenized(rendered: Sequence[Rendered]) -> tuple[Sequence[Example], TokenStats]:
        if isinstance(rendered, RenderedTable):  # the training rows, memory-mapped
            table = rendered.tokenized(inputs.tokenizer, task, max_len, labels)
            return table, table.stats
        return tokenize(rendered, inputs.tokenizer, task, max_len, labels)

    ready = prepare(inputs, tokenized, "example lost its target")
    model = ready.model
    attn = getattr(model.config, "_attn_implementation", None)
    collator = Collator(task, inputs.pad_id, packed, attn, next(model.parameters()).dtype)
    tstats, estats = ready.train_stats, ready.eval_stats
    # The eval block's Evaluator (evaluation/during_run.py) measures supervised runs: no metrics of its own.
    return Workload(
        model,
        ready.method,
        inputs.rows.train.items(ready.train, max_len if packed else None),
        collator,
        lm_objective(task),
        None,
        summary={
            "train_examples": len(ready.train),
            "eval_examples": len(ready.eval),
            "packed": packed,
            "train_tokens": tstats.tokens,
            "truncated": tstats.truncated + estats.truncated,
            "dropped_no_target": tstats.dropped_no_target + estats.dropped_no_target,
        },
    )
