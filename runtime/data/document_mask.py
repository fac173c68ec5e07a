"""Document masks of packed rows built on the device from segment ids, never as a dense [B, 1, L, L].

FlexAttention takes a BlockMask: only the blocks that cross the diagonal or a document edge are
computed element by element, the rest are skipped or taken whole. flash-attention needs no mask at
all: transformers reads where each document starts from the reset position ids and calls its
variable-length kernel.
"""

from __future__ import annotations

import torch
from torch.nn.attention.flex_attention import BlockMask, create_block_mask

FLEX, FLASH = "flex_attention", "flash_attention_2"
DOCUMENT_KERNELS = (FLEX, FLASH)


def document_block_mask(segments: torch.Tensor) -> BlockMask:
    """[B, L] segment ids -> a causal BlockMask that keeps each token inside its own segment.

    Padding has segment -1 in every row, so a padding query attends to earlier padding only and
    no row of the softmax is empty (as in batching.block_causal_mask, the dense reference).
    """
    batch, length = segments.shape

    def same_document_causal(b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return (segments[b, q] == segments[b, k]) & (q >= k)

    return create_block_mask(same_document_causal, batch, None, length, length, device=segments.device)
