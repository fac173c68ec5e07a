"""SimPO: a margin between length-normalised log-probabilities of the answers, with no reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.plan.models import Plan, SimpoMethod
from ftlang.runtime.data.prompts import Rendered
from ftlang.runtime.methods.dpo import PairBatch, pair_stats
from ftlang.runtime.methods.reference_free import average_logps, reference_free_workload
from ftlang.runtime.methods.workload import Workload


def simpo_loss(chosen: torch.Tensor, rejected: torch.Tensor, *, beta: float, gamma: float) -> torch.Tensor:
    """Per-pair loss from mean token log-probabilities (Meng et al. 2024, eq. 6):

    −log σ(β·chosen − β·rejected − γ)
    """
    return -F.logsigmoid(beta * (chosen - rejected) - gamma)


class SimpoObjective:
    """A micro-batch's summed SimPO loss; the implicit rewards are β × the mean log-probabilities."""

    def __init__(self, method: SimpoMethod):
        self.method = method

    def __call__(self, model: torch.nn.Module, batch: PairBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        chosen, rejected = average_logps(model, batch.seqs).chunk(2)
        m = self.method
        losses = simpo_loss(chosen, rejected, beta=m.beta, gamma=m.gamma)
        return losses.sum(), pair_stats(m.beta * chosen.detach(), m.beta * rejected.detach())


def simpo_workload(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    train_r: Sequence[Rendered],
    eval_r: Sequence[Rendered],
    max_len: int,
    pad_id: int,
    device: torch.device,
) -> Workload:
    method = plan.method
    assert isinstance(method, SimpoMethod)
    return reference_free_workload(
        plan, model, tokenizer, train_r, eval_r, max_len, pad_id, device, lambda: SimpoObjective(method)
    )
