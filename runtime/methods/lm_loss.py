"""The LM head and its cross-entropy in chunks of tokens, without holding the whole logits tensor."""

from __future__ import annotations

from typing import Any

import torch

from ftlang.runtime.data.prompts import IGNORE

# Families whose causal-LM forward is exactly `lm_head(decoder(...).last_hidden_state)`:
# no logit scaling or soft-capping that the chunked loss would skip.
PLAIN_HEADS = frozenset({"llama", "mistral", "qwen2", "qwen3"})


def plain_head(model: Any) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
    """The decoder and LM head of a plain causal LM (bare or under LoRA adapters), else None.

    None for wrapped heads (LoRA on lm_head, `also_train` copies), DDP (which must run its
    own forward) and FSDP (whose head weight is a shard): those keep the model's own forward.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if getattr(config, "model_type", None) not in PLAIN_HEADS:
        return None
    head = base.get_output_embeddings()
    if type(head) is not torch.nn.Linear or head.bias is not None or type(head.weight.data) is not torch.Tensor:
        return None
    return base.model, head


def _chunk_rows(vocab: int, device: torch.device) -> int:
    # Logits chunks of 2M floats (8 MB) stay in a CPU's cache; on a GPU 64M fill the chip.
    budget = 2**26 if device.type == "cuda" else 2**21
    return max(1, budget // vocab)


def _chunk_loss(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy of one chunk, and its log-probabilities (overwritten in place)."""
    logp = logits.float().log_softmax(-1)
    valid = targets != IGNORE
    picked = logp.gather(1, targets.clamp(min=0)[:, None]).squeeze(1)
    return -(picked * valid).sum(), logp


class _LinearCrossEntropy(torch.autograd.Function):
    """Sum of cross-entropy(hidden @ weight.T, targets); the gradients are computed in the forward.

    Each chunk's logits become its gradient (softmax minus one-hot) in place and are dropped,
    so neither the logits nor their log-softmax are kept for the backward: the peak memory of
    the head falls from three [tokens, vocab] tensors to one chunk, with no extra matmuls.
    """

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        want_h, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.empty_like(hidden) if want_h else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if want_w else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        rows = _chunk_rows(weight.shape[0], hidden.device)
        for start in range(0, hidden.shape[0], rows):
            h, t = hidden[start : start + rows], targets[start : start + rows]
            loss, grad = _chunk_loss(h @ weight.t(), t)
            total += loss
            grad.exp_()  # softmax
            grad[torch.arange(len(t), device=t.device), t.clamp(min=0)] -= 1  # one index per row: deterministic
            grad.mul_((t != IGNORE)[:, None])
            grad = grad.to(weight.dtype)  # the backward matmuls in the head's dtype, as autograd's
            if want_h:
                grad_h[start : start + rows] = grad @ weight
            if want_w:
                grad_w += grad.t() @ h
        ctx.save_for_backward(grad_h, grad_w)
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx: Any, upstream: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_h, grad_w = ctx.saved_tensors
        return (
            None if grad_h is None else grad_h * upstream,
            None if grad_w is None else (grad_w * upstream).to(ctx.weight_dtype),
            None,
        )


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of `hidden @ weight.T` against `targets` (IGNORE skipped), chunked.

    hidden [N, H], weight [V, H], targets [N]. Without autograd (evaluation) only the loss is
    computed, chunk by chunk.
    """
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _LinearCrossEntropy.apply(hidden, weight, targets)
    rows = _chunk_rows(weight.shape[0], hidden.device)
    return sum(
        (
            _chunk_loss(hidden[i : i + rows] @ weight.t(), targets[i : i + rows])[0]
            for i in range(0, hidden.shape[0], rows)
        ),
        torch.zeros((), dtype=torch.float32, device=hidden.device),
    )
