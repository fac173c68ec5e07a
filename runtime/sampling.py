"""Sampling continuations from a causal LM: batched, KV-cached, seeded, stopping at EOS."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch

# One generator for the whole batch, or one per row: a row then draws the same tokens whatever
# its batch neighbours are, so a batch may be split across processes without changing a draw.
Generators = torch.Generator | Sequence[torch.Generator] | None


class SamplingSeeds:
    """A generator per (step, item, draw), seeded from the run's seed alone.

    What a completion samples then depends neither on which process samples it nor in which
    micro-batch, and a resumed run, which knows its step, draws exactly what it would have
    drawn: there is no generator state to carry across steps. The training loop sets `step`
    before it collates each step.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.step = 0

    def generator(self, item: int, draw: int, device: torch.device) -> torch.Generator:
        key = hashlib.blake2b(f"{self.seed}:{self.step}:{item}:{draw}".encode(), digest_size=8).digest()
        return torch.Generator(device=device).manual_seed(int.from_bytes(key, "little") >> 1)


def _draw(probs: torch.Tensor, generator: Generators) -> torch.Tensor:
    """One token per row of `probs` from `generator`, or from each row's own generator."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return torch.cat([torch.multinomial(row[None], 1, generator=g)[0] for row, g in zip(probs, generator)])


@torch.no_grad()
def sample(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    eos_id: int | None,
    pad_id: int,
    device: torch.device,
    temperature: float | None = None,
    generator: Generators = None,
    lockstep: bool = False,
) -> list[list[int]]:
    """Continue each prompt by at most `max_new_tokens` tokens; a completion ends with its EOS.

    `temperature` None picks the most likely token (greedy); otherwise tokens are drawn from
    softmax(logits / temperature) with `generator` (or one generator per prompt), so the same
    generator states give the same completions. `lockstep` runs all `max_new_tokens` forwards
    even once every row has ended: a model sharded over processes gathers its weights in each
    forward, so every process must run as many. The caller chooses train or eval mode.
    """
    rows, width = len(prompts), max(len(p) for p in prompts)
    # Left padding puts every prompt's last token in the last column: one next token per row.
    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        mask[i, width - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = torch.full((rows, max_new_tokens), pad_id, dtype=torch.long, device=device)
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    cache: dict[str, Any] = {}
    for t in range(max_new_tokens):
        res = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **cache)
        # transformers 5.2x renamed the KV cache `past_key_values` to `cache`: hand back what
        # this version returned, under the name it used.
        name = "cache" if "cache" in res else "past_key_values"
        cache = {name: res[name]}
        logits = res.logits[:, -1].float()
        if temperature is None:
            token = logits.argmax(-1)
        else:
            token = _draw(torch.softmax(logits / temperature, dim=-1), generator)
        token = torch.where(done, torch.full_like(token, pad_id), token)
        out[:, t] = token
        if eos_id is not None:
            done |= token == eos_id
        if not lockstep and bool(done.all()):
            break
        ids, positions = token[:, None], positions[:, -1:] + 1
        mask = torch.cat([mask, torch.ones((rows, 1), dtype=mask.dtype, device=device)], dim=1)
    completions = []
    for row, finished in zip(out.tolist(), done.tolist()):
        # Up to and including the EOS; a row that never stopped keeps all its tokens.
        completions.append(row[: row.index(eos_id) + 1] if finished else row)
    return completions
