"""ORPO: the SFT loss on the chosen answer plus an odds-ratio preference term, with no reference."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ftlang.plan.models import OrpoMethod
from ftlang.runtime.methods.dpo import PairBatch, pair_stats
from ftlang.runtime.methods.reference_free import average_logps


def log_odds(average: torch.Tensor) -> torch.Tensor:
    """log(P / (1 − P)) with P = exp(mean token log-probability); expm1 keeps 1 − P exact near P = 1."""
    return average - torch.log(-torch.expm1(average))


def orpo_loss(chosen: torch.Tensor, rejected: torch.Tensor, *, lam: float) -> torch.Tensor:
    """Per-pair loss from mean token log-probabilities (Hong et al. 2024, eq. 6–7):

    L_SFT + λ·L_OR,  L_SFT = −chosen,  L_OR = −log σ(log odds(chosen) − log odds(rejected))
    """
    return -chosen - lam * F.logsigmoid(log_odds(chosen) - log_odds(rejected))


class OrpoObjective:
    """A micro-batch's summed ORPO loss; rewards are λ × the mean log-probabilities, as TRL logs them."""

    def __init__(self, method: OrpoMethod):
        self.method = method

    def __call__(self, model: torch.nn.Module, batch: PairBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        chosen, rejected = average_logps(model, batch.seqs).chunk(2)
        lam = self.method.lambda_
        losses = orpo_loss(chosen, rejected, lam=lam)
        c, r = chosen.detach(), rejected.detach()
        stats = pair_stats(lam * c, lam * r)
        stats["log_odds_ratio"] = (log_odds(c) - log_odds(r)).sum()
        stats["nll"] = -c.sum()
        return losses.sum(), stats
