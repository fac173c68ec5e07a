"""Batching: pack examples into sequences and collate micro-batches with their masks."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import torch

from ftlang.runtime.data.document_mask import DOCUMENT_KERNELS, FLEX, document_block_mask
from ftlang.runtime.data.prompts import IGNORE, Example

Item = tuple[Example, ...]  # one training sequence: one example, or several packed


@runtime_checkable
class RowWeighted(Protocol):
    """A micro-batch whose objective weighs its rows itself, beyond the loop's weight for the whole
    micro-batch (KTO pools its KL estimate over processes inside the objective)."""

    def as_filler(self) -> Self:
        """The same rows weighing 0: a process's filler when its share of a short batch ran out."""
        ...


def weighed(batch: Any, weight: int) -> Any:
    """`batch`, its rows weighing 0 when the micro-batch is a filler and the batch weighs its rows."""
    return batch.as_filler() if weight == 0 and isinstance(batch, RowWeighted) else batch


@dataclass
class Batch:
    """One micro-batch on the host; `to(device)` moves its tensors."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor  # [B, L] padding mask, or [B, 1, L, L] when packed
    targets: torch.Tensor  # LM: next-token ids, -100 where no loss; classification: [B]
    position_ids: torch.Tensor | None
    n_targets: int  # loss tokens (LM) or examples (classification): the loss denominator
    n_tokens: int  # real (non-pad) tokens, for tokens/s
    # Packed rows for a document-masking kernel: [B, L] segment ids instead of the dense mask,
    # turned into the kernel's own mask on the device (document_mask.py).
    segments: torch.Tensor | None = None
    kernel: str | None = None

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
            move(self.segments),
            self.kernel,
        )

    def model_inputs(self) -> dict[str, Any]:
        if self.segments is not None:
            # flash-attention finds the documents from the reset position ids; flex needs its mask.
            mask = document_block_mask(self.segments) if self.kernel == FLEX else None
            return {"input_ids": self.input_ids, "attention_mask": mask, "position_ids": self.position_ids}
        kw = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.position_ids is not None:
            kw["position_ids"] = self.position_ids
        return kw


def best_fit(lengths: Sequence[int], max_len: int) -> list[list[int]]:
    """Best-fit packing of lengths into sequences of `max_len`, as lists of their indices.

    Each example joins the open sequence with the least room that still holds it, or starts a
    new one. Greedy in-order packing closed a sequence at the first example that did not fit
    and left ~20 % padding on long-tailed lengths; best-fit leaves ~1 %.

    No sorting: examples are taken in data order and keep it inside each sequence, and the
    sequences come in the order they were started, so the packs are a pure function of the
    lengths.
    """
    packs: list[list[int]] = []
    # Open sequences by free room: the distinct free sizes, sorted (at most max_len of them, so
    # a million examples never shift a million-long list), and per size a heap of pack indices.
    sizes: list[int] = []
    open_by_size: dict[int, list[int]] = {}
    for j, n in enumerate(lengths):
        at = bisect.bisect_left(sizes, n)
        if at < len(sizes):
            free = sizes[at]
            i = heapq.heappop(open_by_size[free])
            if not open_by_size[free]:
                sizes.pop(at)
        else:
            free, i = max_len, len(packs)
            packs.append([])
        packs[i].append(j)
        left = free - n
        if left > 0:
            if not open_by_size.get(left):
                bisect.insort(sizes, left)
                open_by_size[left] = []
            heapq.heappush(open_by_size[left], i)
    return packs


def pack(examples: Sequence[Example], max_len: int) -> list[Item]:
    """Examples in best-fit packs (see `best_fit`)."""
    groups = best_fit([len(ex.input_ids) for ex in examples], max_len)
    return [tuple(examples[j] for j in g) for g in groups]


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


def collate_lm(
    items: Sequence[Item], pad_id: int, packed: bool, mask_dtype: torch.dtype | None = None, kernel: str | None = None
) -> Batch:
    """Right-pad to the longest row. Packed rows get reset position ids and a 4-D mask, or their
    segment ids when `kernel` masks documents itself (flex_attention, flash_attention_2)."""
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
    if kernel in DOCUMENT_KERNELS:
        return Batch(ids, (segs >= 0).long(), targets, pos, n_targets, n_tokens, segs, kernel)
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

    runs_model = False  # host-side and pure: the loop prefetches its batches (train/prefetch.py)

    def __init__(self, task: str, pad_id: int, packed: bool, attn_impl: str | None, dtype: torch.dtype):
        self.task, self.pad_id, self.packed = task, pad_id, packed
        # sdpa takes the boolean mask directly; eager adds it to the scores; flex and flash
        # build their own from segment ids.
        self.mask_dtype = None if attn_impl in (None, "sdpa", *DOCUMENT_KERNELS) else dtype
        self.kernel = attn_impl if attn_impl in DOCUMENT_KERNELS else None

    def __call__(self, items: Sequence[Item], packed: bool | None = None) -> Batch:
        if self.task == "classification":
            return collate_classification(items, self.pad_id)
        use_pack = self.packed if packed is None else packed
        return collate_lm(items, self.pad_id, use_pack, self.mask_dtype if use_pack else None, self.kernel)
