"""SimPO: a margin between length-normalised log-probabilities of the answers, with no reference."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ftlang.plan.models import SimpoMethod
from ftlang.runtime.methods.dpo import PairBatch, pair_stats
from ftlang.runtime.methods.reference_free import average_logps


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
