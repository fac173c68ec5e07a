"""`method reward`: a Bradley–Terry reward model, one scalar score per sequence, from chosen/rejected pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.plan.models import Plan, RewardMethod
from ftlang.runtime.data.prompts import Rendered
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.adapters import apply_method
from ftlang.runtime.methods.dpo import PairBatch, PairCollator, evaluate_pairs, pair_stats, tokenize_pairs
from ftlang.runtime.methods.workload import Workload


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


def reward_workload(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    train_r: Sequence[Rendered],
    eval_r: Sequence[Rendered],
    max_len: int,
    pad_id: int,
    device: torch.device,
) -> Workload:
    """Pairs tokenised as for DPO (the score reads the whole sequence), the scalar head, LoRA or not."""
    method = plan.method
    assert isinstance(method, RewardMethod)
    train_pairs, tstats = tokenize_pairs(train_r, tokenizer, max_len)
    eval_pairs, estats = tokenize_pairs(eval_r, tokenizer, max_len)
    if not train_pairs:
        raise RunError(
            f"every training pair lost an answer to truncation at max_len {max_len}",
            help="raise max_len or shorten the prompt",
        )
    # Padding sits at the end of each row: the head reads the last token that is not the pad id.
    model.config.pad_token_id = pad_id
    model, info = apply_method(model, method, "classification")
    objective, collate = RewardObjective(method), PairCollator(pad_id)
    batch_size = plan.train.micro_batch or plan.train.batch
    evaluate = (
        (lambda: evaluate_pairs(model, eval_pairs, objective, collate, batch_size, device))  # type: ignore[arg-type]
        if eval_pairs
        else None
    )
    return Workload(
        model,
        info,
        train_pairs,
        collate,
        objective,
        evaluate,
        summary={
            "train_examples": len(train_pairs),
            "eval_examples": len(eval_pairs),
            "truncated": tstats["truncated"] + estats["truncated"],
            "dropped_no_target": tstats["dropped_no_target"] + estats["dropped_no_target"],
        },
        saved_model=lambda: merged(model),
    )


def merged(model: Any) -> Any:
    """A plain `…ForSequenceClassification`: LoRA's weights folded in, so the folder loads without peft."""
    if hasattr(model, "merge_and_unload"):
        import copy

        return copy.deepcopy(model).merge_and_unload()
    return model
