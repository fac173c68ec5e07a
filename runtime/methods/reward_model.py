"""`method reward`: a Bradley–Terry reward model, one scalar score per sequence, from chosen/rejected pairs."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.plan.models import RewardMethod
from ftlang.runtime.methods.dpo import PairBatch, pair_stats
from ftlang.runtime.methods.reference_free import reference_free_workload
from ftlang.runtime.methods.workload import Workload, WorkloadInputs


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor, *, center: float = 0.0) -> torch.Tensor:
    """Per-pair loss from the two scores (Bradley & Terry 1952; Ouyang et al. 2022, eq. 1):

    −log σ(r_chosen − r_rejected) + center · (r_chosen + r_rejected)²

    The second term (Eisenstein et al. 2023, TRL's `center_rewards_coefficient`) keeps the
    scores near 0, which the first leaves free to drift by any constant.
    """
    return -F.logsigmoid(chosen - rejected) + center * (chosen + rejected) ** 2


def scores(model: torch.nn.Module, batch: PairBatch) -> torch.Tensor:
    """The scalar head's output at each sequence's last token (transformers finds it by the pad id)."""
    return model(**batch.seqs.model_inputs()).logits.float().squeeze(-1)


class RewardObjective:
    """A micro-batch's summed Bradley–Terry loss; the statistics are the scores themselves."""

    def __init__(self, method: RewardMethod):
        self.method = method

    def __call__(self, model: torch.nn.Module, batch: PairBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        chosen, rejected = scores(model, batch).chunk(2)
        losses = bradley_terry_loss(chosen, rejected, center=self.method.center)
        return losses.sum(), pair_stats(chosen.detach(), rejected.detach())


def reward_workload(inputs: WorkloadInputs) -> Workload:
    """Pairs tokenised as for DPO (the score reads the whole sequence), the scalar head, LoRA or not."""
    # Padding sits at the end of each row: the head reads the last token that is not the pad id.
    inputs.model.config.pad_token_id = inputs.pad_id
    work = reference_free_workload(inputs, objective=RewardObjective, task="classification")
    return replace(work, saved_model=lambda: merged(work.model))


def merged(model: Any) -> Any:
    """A plain `…ForSequenceClassification`: LoRA's weights folded into a copy, so the folder loads without peft."""
    if hasattr(model, "merge_and_unload"):
        return copy.deepcopy(model).merge_and_unload()
    return model
