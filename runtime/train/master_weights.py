"""Float32 master weights for a model trained in bfloat16 (`precision = bf16_master`).

The forward and backward passes run on the model's bfloat16 weights; the optimizer steps float32
copies of them. After the step's last backward pass each bfloat16 gradient (summed in bfloat16
over the micro-batches, as DDP all-reduces it) goes, as float32, onto its master;
clipping and the optimizer act on the masters, which are then rounded back into the model. An
update smaller than bfloat16's spacing (a step of 1e-5 on a weight of 0.02) accumulates in the
master instead of rounding away. torch, transformers and torchao offer no such optimizer wrapper
for one process or DDP (FSDP2's mixed-precision policy does it for sharded runs, DeepSpeed and
Megatron inside their engines), so it is written here, as three copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

_KEY = "master_weights"  # where an optimizer's state_dict carries the masters


class MasterWeights:
    """Float32 copies of a model's trained half-precision parameters, stepped in their place."""

    def __init__(self, params: Iterable[torch.nn.Parameter]) -> None:
        # Trained weights already in float32 (peft keeps adapters so) are stepped as they are.
        self.pairs = [(p, p.detach().float().clone()) for p in params if p.requires_grad and p.dtype != torch.float32]
        self._master = {id(p): m for p, m in self.pairs}

    def stepped(self, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """What the optimizer steps in place of each parameter: its master, or the parameter."""
        return [self._master.get(id(p), p) for p in params]

    def take_grads(self) -> None:
        """Each half-precision gradient onto its master as float32; the model's are freed."""
        for p, m in self.pairs:
            m.grad = None if p.grad is None else p.grad.float()
            p.grad = None

    @torch.no_grad()
    def write_back(self) -> None:
        """The stepped masters, rounded to the model's dtype, become the model's weights."""
        for p, m in self.pairs:
            p.copy_(m)

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's state_dict carries the masters: a resumed run steps the same float32
        values, not the bfloat16 weights it saved."""
        optimizer.register_state_dict_post_hook(self._save)
        optimizer.register_load_state_dict_pre_hook(self._load)

    def _save(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> dict[str, Any]:
        # The masters themselves, as the optimizer's own state is its live tensors: a copy would
        # put 4 more bytes per trained weight on the device at every checkpoint.
        return {**state, _KEY: [m.detach() for _, m in self.pairs]}

    @torch.no_grad()
    def _load(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> dict[str, Any]:
        saved = state.get(_KEY)
        for (_, m), value in zip(self.pairs, saved or [p for p, _ in self.pairs], strict=True):
            m.copy_(value)
        return {k: v for k, v in state.items() if k != _KEY}
