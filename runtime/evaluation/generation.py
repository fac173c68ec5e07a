"""Generation for evaluation: the eval block's `generate` settings applied to batches of prompts."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch

from ftlang.plan.models import Generation
from ftlang.runtime.methods.policy import evaluating
from ftlang.runtime.sampling import sample
from ftlang.runtime.train.precision import Precision


def pad_id(tokenizer: Any) -> int:
    """The id batches are padded with: the pad token, else EOS (padding is masked anyway)."""
    return next(i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if i is not None)


def _until(ids: list[int], stops: Sequence[int]) -> list[int]:
    cut = next((i for i, token in enumerate(ids) if token in stops), len(ids))
    return ids[:cut]


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[list[int]],
    settings: Generation,
    *,
    max_len: int,
    batch_size: int,
    device: torch.device,
    stops: Sequence[int] = (),
    precision: Precision | None = None,
) -> list[str]:
    """Continue each prompt by at most `settings.max_new_tokens` tokens; the decoded text, stripped.

    Greedy unless `settings.sample`; sampling draws from a fresh generator seeded with
    `settings.seed`, so every evaluation draws alike and none touches training's random
    stream. Prompts keep their last `max_len - max_new_tokens` tokens: prompt and answer fit
    the length the model was trained at. An answer also ends at the first of `stops` (a chat
    template's end-of-turn token), which it keeps out of its text. The forward passes run in
    the run's `precision`.
    """
    keep = max(1, max_len - settings.max_new_tokens)
    temperature = settings.temperature if settings.sample else None
    generator = torch.Generator(device=device).manual_seed(settings.seed) if settings.sample else None
    texts: list[str] = []
    arithmetic = precision.autocast() if precision else contextlib.nullcontext()
    with evaluating(model), arithmetic:
        for start in range(0, len(prompts), batch_size):
            out = sample(
                model,
                [p[-keep:] for p in prompts[start : start + batch_size]],
                max_new_tokens=settings.max_new_tokens,
                eos_id=tokenizer.eos_token_id,
                pad_id=pad_id(tokenizer),
                device=device,
                temperature=temperature,
                generator=generator,
            )
            out = [_until(ids, stops) for ids in out]
            texts += [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]
    return texts
