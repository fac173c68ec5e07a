"""The policy and its frozen reference for DPO and GRPO: token log-probabilities, reference model."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.runtime.data.batching import Batch
from ftlang.runtime.data.prompts import IGNORE


@dataclass
class SequenceBatch:
    """A micro-batch of collated sequences and what a method adds; the loop counts their tokens."""

    seqs: Batch

    @property
    def n_tokens(self) -> int:
        return self.seqs.n_tokens

    @property
    def n_positions(self) -> int:
        return self.seqs.n_positions


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode for the block: no dropout, hence no RNG draws; the previous mode comes back."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def token_logps(model: torch.nn.Module, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    """log π(target token) at every position of a collated LM batch, 0 where there is no target.

    `temperature` divides the logits: GRPO scores completions under the distribution it sampled
    them from.
    """
    logits = model(**batch.model_inputs()).logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    # cross_entropy over [N, vocab, L] gives -log p per position; ignored positions are 0.
    return -F.cross_entropy(logits.transpose(1, 2), batch.targets, ignore_index=IGNORE, reduction="none")


def target_mask(batch: Batch) -> torch.Tensor:
    return batch.targets != IGNORE


class Reference:
    """The frozen reference policy: the base model under its adapter, or a frozen copy of it.

    With an adapter the trained weights are the adapter's alone, so switching it off gives the
    base without a second copy in memory. Full fine-tuning changes every weight: the reference
    is then a deep copy taken before the first step, unless `before_training` says the
    reference is only asked before any step (precomputed log-probabilities), when the model
    itself still is the base. It runs in eval mode, without gradients: it draws no random
    numbers.
    """

    def __init__(self, model: Any, has_adapter: bool, before_training: bool = False):
        self._model, self._has_adapter = model, has_adapter
        self._copy = None
        if not has_adapter and not before_training:
            self._copy = copy.deepcopy(model).requires_grad_(False).eval()

    @torch.no_grad()
    def token_logps(self, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
        if self._copy is not None:
            return token_logps(self._copy, batch, temperature)
        adapter_off = self._model.disable_adapter() if self._has_adapter else contextlib.nullcontext()
        with evaluating(self._model), adapter_off:
            return token_logps(self._model, batch, temperature)

    def sequence_logps(self, batch: Batch) -> torch.Tensor:
        return self.token_logps(batch).sum(-1)
