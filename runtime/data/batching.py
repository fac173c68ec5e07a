"""Batching: pack examples into sequences and collate micro-batches with their masks."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ftlang.runtime.data.prompts import IGNORE, Example

Item = tuple[Example, ...]  # one training sequence: one example, or several packed


@dataclass
class Batch:
    """One micro-batch on the host; `to(device)` moves its tensors."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor  # [B, L] padding mask, or [B, 1, L, L] when packed
    targets: torch.Tensor  # LM: next-token ids, -100 where no loss; classification: [B]
    position_ids: torch.Tensor | None
    n_targets: int  # loss tokens (LM) or examples (classification): the loss denominator
    n_tokens: int  # real (non-pad) tokens, for tokens/s

    @property
    def n_positions(self) -> int:
        """Positions the model computes, padding included."""
        return self.input_ids.numel()

    def to(self, device: torch.device) -> Batch:
        # From pageable memory CUDA first waits for all queued GPU work, so every step would
        # stall the host; from pinned memory the copy is queued and the host runs ahead.
        pin = device.type == "cuda"
        move = lambda t: None if t is None else (t.pin_memory() if pin else t).to(device, non_blocking=True)  # noqa: E731
        return Batch(
            move(self.input_ids),
            move(self.attention_mask),
            move(self.targets),
            move(self.position_ids),
            self.n_targets,
            self.n_tokens,
        )

    def model_inputs(self) -> dict[str, torch.Tensor]:
        kw = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.position_ids is not None:
            kw["position_ids"] = self.position_ids
        return kw


def pack(examples: Sequence[Example], max_len: int) -> list[Item]:
    """Best-fit packing: each example joins the open sequence with the least room that still
    holds it, or starts a new one. Greedy in-order packing closed a sequence at the first
    example that did not fit and left ~20 % padding on long-tailed lengths; best-fit leaves ~1 %.

    No sorting: examples are taken in data order and keep it inside each sequence, and the
    sequences come in the order they were started, so the packs are a pure function of the
    examples.
    """
    packs: list[list[Example]] = []
    room: list[tuple[int, int]] = []  # (tokens still free, pack index), sorted: open sequences
    for ex in examples:
        n = len(ex.input_ids)
        at = bisect.bisect_left(room, (n, -1))
        if at < len(room):
            free, i = room.pop(at)
        else:
            free, i = max_len, len(packs)
            packs.append([])
        packs[i].append(ex)
        if free - n > 0:
            bisect.insort(room, (free - n, i))
    return [tuple(p) for p in packs]


def singles(examples: Sequence[Example]) -> list[Item]:
    return [(ex,) for ex in examples]


def _shifted(ex: Example) -> list[int]:
    # Position t predicts token t+1. Shifting inside each example (not across the packed
    # row) keeps one example's last token from being trained to predict the next example.
    return ex.labels[1:] + [IGNORE]


def block_causal_mask(segments: torch.Tensor) -> torch.Tensor:
    """[B, L] segment ids -> [B, 1, L, L] bool: attend only earlier tokens of the same segment.

    Padding has its own segment per row (-1), so every query row keeps at least its own
    diagonal and no row of the softmax is empty (an all-masked row gives NaN gradients).
    """
    L = segments.shape[1]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    same = segments[:, :, None] == segments[:, None, :]
    return (same & causal)[:, None, :, :]


def as_additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Eager attention adds the mask to the scores: 0 where allowed, the dtype's min elsewhere."""
    zero = torch.zeros((), dtype=dtype)
    return torch.where(mask, zero, torch.tensor(torch.finfo(dtype).min, dtype=dtype))


def collate_lm(items: Sequence[Item], pad_id: int, packed: bool, mask_dtype: torch.dtype | None = None) -> Batch:
    """Right-pad to the longest row. Packed rows get reset position ids and a 4-D mask."""
    lengths = [sum(len(ex.input_ids) for ex in item) for item in items]
    L = max(lengths)
    B = len(items)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    targets = torch.full((B, L), IGNORE, dtype=torch.long)
    segs = torch.full((B, L), -1, dtype=torch.long)
    pos = torch.zeros((B, L), dtype=torch.long)
    n_targets = 0
    for b, item in enumerate(items):
        at = 0
        for s, ex in enumerate(item):
            n = len(ex.input_ids)
            ids[b, at : at + n] = torch.tensor(ex.input_ids)
            shifted = _shifted(ex)
            targets[b, at : at + n] = torch.tensor(shifted)
            n_targets += sum(1 for t in shifted if t != IGNORE)
            segs[b, at : at + n] = s
            pos[b, at : at + n] = torch.arange(n)
            at += n
    n_tokens = sum(lengths)
    if not packed:
        return Batch(ids, (segs >= 0).long(), targets, None, n_targets, n_tokens)
    mask = block_causal_mask(segs)
    if mask_dtype is not None:
        mask = as_additive(mask, mask_dtype)
    return Batch(ids, mask, targets, pos, n_targets, n_tokens)


def collate_classification(items: Sequence[Item], pad_id: int) -> Batch:
    exs = [item[0] for item in items]
    L = max(len(ex.input_ids) for ex in exs)
    ids = torch.full((len(exs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(exs), L), dtype=torch.long)
    for b, ex in enumerate(exs):
        ids[b, : len(ex.input_ids)] = torch.tensor(ex.input_ids)
        mask[b, : len(ex.input_ids)] = 1
    targets = torch.tensor([ex.labels[0] for ex in exs], dtype=torch.long)
    return Batch(ids, mask, targets, None, len(exs), int(mask.sum()))


class Collator:
    """Picks the collate function and mask form for a task and model."""

    def __init__(self, task: str, pad_id: int, packed: bool, attn_impl: str | None, dtype: torch.dtype):
        self.task, self.pad_id, self.packed = task, pad_id, packed
        # sdpa takes the boolean mask directly; eager adds it to the scores.
        self.mask_dtype = None if attn_impl in (None, "sdpa") else dtype

    def __call__(self, items: Sequence[Item], packed: bool | None = None) -> Batch:
        if self.task == "classification":
            return collate_classification(items, self.pad_id)
        use_pack = self.packed if packed is None else packed
        return collate_lm(items, self.pad_id, use_pack, self.mask_dtype if use_pack else None)
