"""KTO: single completions marked desirable or not, judged against a KL reference point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch

from ftlang.plan.models import KtoMethod
from ftlang.runtime.data.batching import collate_lm
from ftlang.runtime.data.prompts import Example, Rendered, tokenize
from ftlang.runtime.methods.policy import Reference, SequenceBatch, evaluating, token_logps
from ftlang.runtime.methods.workload import Workload, WorkloadInputs, prepare, token_summary
from ftlang.runtime.train import distributed


@dataclass(frozen=True)
class Rated:
    """A tokenised completion and whether it is desirable; `mismatched` is its prompt with another
    row's completion, whose log-ratio estimates the KL between policy and reference."""

    example: Example
    mismatched: Example
    desirable: bool


@dataclass
class RatedBatch(SequenceBatch):
    """The completions, then their mismatched twins, in one padded batch: one forward for both.

    `weights` is 1 per row, or 0 per row of a filler micro-batch (a process whose share of an
    uneven last batch ran out): the KL estimate is pooled over processes inside the objective,
    where the loop's own weight for the micro-batch does not reach, so the rows carry theirs.
    """

    desirable: torch.Tensor  # [n] bool
    weights: torch.Tensor  # [n] float

    @property
    def n_targets(self) -> int:  # the loss is a mean over completions
        return int(self.desirable.shape[0])

    def to(self, device: torch.device) -> RatedBatch:
        return RatedBatch(self.seqs.to(device), self.desirable.to(device), self.weights.to(device))

    def as_filler(self) -> RatedBatch:
        return replace(self, weights=torch.zeros_like(self.weights))


def kto_loss(
    logratios: torch.Tensor,
    desirable: torch.Tensor,
    kl: torch.Tensor,
    *,
    beta: float,
    desirable_weight: float,
    undesirable_weight: float,
) -> torch.Tensor:
    """Per-completion loss, r = log π(y|x) − log π_ref(y|x) summed over the completion's tokens:

    desirable:   λ_D · (1 − σ(β·(r − z₀)))
    undesirable: λ_U · (1 − σ(β·(z₀ − r)))

    with z₀ = `kl`, the reference point (Ethayarajh et al. 2024, eq. 8), never differentiated.
    """
    z0 = kl.detach()
    good = desirable_weight * (1 - torch.sigmoid(beta * (logratios - z0)))
    bad = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - logratios)))
    return torch.where(desirable, good, bad)


def kl_estimate(
    mismatched_logratios: torch.Tensor, weights: torch.Tensor | None = None, *, across_ranks: bool
) -> torch.Tensor:
    """max(0, weighted mean log-ratio of the mismatched completions); summed over every process when
    training, so that several processes estimate it from the same rows as one process would.

    `weights` (default 1 each) is 0 for a filler row, which then counts in neither the sum nor the count.
    """
    ratios = mismatched_logratios.detach().double()
    w = torch.ones_like(ratios) if weights is None else weights.double()
    total, count = (ratios * w).sum(), w.sum()
    if across_ranks:
        total, count = distributed.all_sum(total), distributed.all_sum(count)
    return (total / count.clamp(min=1)).clamp(min=0).to(mismatched_logratios.dtype)


def tokenize_rated(rendered: Sequence[Rendered], tokenizer: Any, max_len: int) -> tuple[list[Rated], dict[str, int]]:
    """Each row's prompt + completion, and its prompt + the next row's completion (the last row
    takes the first's): a fixed pairing, so the KL estimate does not depend on how rows batch."""
    if not rendered:
        return [], {"truncated": 0, "dropped_no_target": 0}
    task = "chat" if rendered[0].messages else "completion"
    shifted = [_with_completion_of(r, rendered[(i + 1) % len(rendered)]) for i, r in enumerate(rendered)]
    own, ostats = tokenize(rendered, tokenizer, task, max_len)
    other, mstats = tokenize(shifted, tokenizer, task, max_len)
    twins = {e.origin: e for e in other}
    flags = {r.origin: bool(r.desirable) for r in rendered}
    rated = [Rated(e, twins[e.origin], flags[e.origin]) for e in own if e.origin in twins]
    dropped = len(rendered) - len(rated)
    return rated, {"truncated": ostats.truncated + mstats.truncated, "dropped_no_target": dropped}


def _with_completion_of(r: Rendered, other: Rendered) -> Rendered:
    if r.messages:
        return replace(r, messages=(*r.messages[:-1], other.messages[-1]))
    return replace(r, target=other.target)


class RatedCollator:
    """Each row's completion then its mismatched twin (the KL reference point's), every row weighing 1."""

    runs_model = False  # host-side and pure: the loop prefetches its batches

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[Rated]) -> RatedBatch:
        seqs = collate_lm([(r.example,) for r in rows] + [(r.mismatched,) for r in rows], self.pad_id, packed=False)
        return RatedBatch(
            seqs,
            torch.tensor([r.desirable for r in rows], dtype=torch.bool),
            torch.ones(len(rows), dtype=torch.float32),
        )


class KtoObjective:
    """A micro-batch's summed KTO loss, and the statistics the loop logs as means over completions."""

    def __init__(self, method: KtoMethod, reference: Reference):
        self.method, self.reference = method, reference

    def logratios(self, model: torch.nn.Module, batch: RatedBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-ratios of the completions (with gradient) and of their mismatched twins (without)."""
        policy = token_logps(model, batch.seqs).sum(-1)
        ratios = policy - self.reference.sequence_logps(batch.seqs)
        own, mismatched = ratios.chunk(2)
        return own, mismatched.detach()

    def losses(self, own: torch.Tensor, desirable: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
        m = self.method
        return kto_loss(
            own,
            desirable,
            kl,
            beta=m.beta,
            desirable_weight=m.desirable_weight,
            undesirable_weight=m.undesirable_weight,
        )

    def __call__(self, model: torch.nn.Module, batch: RatedBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        own, mismatched = self.logratios(model, batch)
        w = batch.weights.to(own.dtype)
        kl = kl_estimate(mismatched, w, across_ranks=True)
        rewards = self.method.beta * own.detach()
        # +reward for a desirable completion, −reward for an undesirable one: rises as KTO learns.
        signed = torch.where(batch.desirable, rewards, -rewards)
        losses = self.losses(own, batch.desirable, kl) * w
        return losses.sum(), {"signed_reward": (signed * w).sum(), "kl_estimate": kl * w.sum()}


@torch.no_grad()
def evaluate_rated(
    model: torch.nn.Module,
    rows: Sequence[Rated],
    objective: KtoObjective,
    collate: RatedCollator,
    batch_size: int,
    device: torch.device,
) -> dict[str, float]:
    """The KTO loss over the eval rows with one KL estimate from all of them, and the rewards."""
    own, mismatched, flags = [], [], []
    with evaluating(model):
        for i in range(0, len(rows), batch_size):
            batch = collate(rows[i : i + batch_size]).to(device)
            o, m = objective.logratios(model, batch)
            own.append(o.double())
            mismatched.append(m.double())
            flags.append(batch.desirable)
    r, good = torch.cat(own), torch.cat(flags)
    kl = kl_estimate(torch.cat(mismatched), across_ranks=False)
    rewards = objective.method.beta * r
    mean_good = rewards[good].mean().item() if good.any() else 0.0
    mean_bad = rewards[~good].mean().item() if (~good).any() else 0.0
    return {
        "eval_loss": objective.losses(r, good, kl).mean().item(),
        "eval_examples": len(rows),
        "eval_kl_estimate": kl.item(),
        "eval_rewards_desirable": mean_good,
        "eval_rewards_undesirable": mean_bad,
        "eval_reward_margin": mean_good - mean_bad,
    }


def kto_workload(inputs: WorkloadInputs) -> Workload:
    """Tokenise the rated completions, attach the adapter, keep the reference: what run.py trains."""
    method = inputs.plan.method
    assert isinstance(method, KtoMethod)
    tokenized = partial(tokenize_rated, tokenizer=inputs.tokenizer, max_len=inputs.max_len)
    ready = prepare(inputs, tokenized, "completion lost its tokens")
    model, train_rows, eval_rows = ready.model, ready.train, ready.eval
    objective = KtoObjective(method, Reference(model, method.adapter is not None))
    collate, batch_size, device = RatedCollator(inputs.pad_id), inputs.batch_size, inputs.device
    evaluate = (lambda: evaluate_rated(model, eval_rows, objective, collate, batch_size, device)) if eval_rows else None
    return Workload(
        model,
        ready.method,
        train_rows,
        collate,
        objective,
        evaluate,
        summary={
            **token_summary(train_rows, eval_rows, ready.train_stats, ready.eval_stats),
            "desirable": sum(r.desirable for r in train_rows),
        },
    )
