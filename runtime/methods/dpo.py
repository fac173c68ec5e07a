"""DPO and its variants (IPO, hinge): preference pairs, the losses, training and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.plan.models import DpoMethod
from ftlang.runtime.data.batching import collate_lm
from ftlang.runtime.data.prompts import Example, Rendered, answers, tokenize
from ftlang.runtime.methods.policy import Reference, SequenceBatch, evaluating, token_logps
from ftlang.runtime.methods.workload import Workload, WorkloadInputs, prepare, token_summary


@dataclass(frozen=True)
class Pair:
    """A tokenised preference pair; labels mark the answer tokens (and EOS) only.

    `reference` holds the reference policy's summed log-probabilities of (chosen, rejected)
    when they are precomputed.
    """

    chosen: Example
    rejected: Example
    reference: tuple[float, float] | None = None


@dataclass
class PairBatch(SequenceBatch):
    """The chosen sequences, then the rejected ones, in one padded batch: one forward for both."""

    reference: torch.Tensor | None  # [2 × pairs] precomputed, in the same order, or None

    @property
    def n_targets(self) -> int:  # the loss is a mean over pairs
        return self.seqs.input_ids.shape[0] // 2

    def to(self, device: torch.device) -> PairBatch:
        ref = None if self.reference is None else self.reference.to(device)
        return PairBatch(self.seqs.to(device), ref)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    *,
    beta: float,
    kind: str,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Per-pair loss from summed log-probabilities, with h = (πc − rc) − (πr − rr).

    sigmoid (DPO, Rafailov et al. 2023; with label smoothing ε as in cDPO):
        −(1 − ε)·log σ(β·h) − ε·log σ(−β·h)
    ipo (Azar et al. 2023): (h − 1/(2β))²
    hinge (SLiC, Zhao et al. 2023): max(0, 1 − β·h)
    """
    h = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    if kind == "sigmoid":
        return -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    if kind == "ipo":
        return (h - 1 / (2 * beta)) ** 2
    if kind == "hinge":
        return torch.relu(1 - beta * h)
    raise ValueError(f"unknown DPO loss {kind!r}")


def pair_stats(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sums over pairs of the implicit rewards β·(π − r), their margin, and how often chosen wins."""
    return {
        "rewards_chosen": chosen.sum(),
        "rewards_rejected": rejected.sum(),
        "reward_margin": (chosen - rejected).sum(),
        "preference_accuracy": (chosen > rejected).float().sum(),
    }


def tokenize_pairs(rendered: Sequence[Rendered], tokenizer: Any, max_len: int) -> tuple[list[Pair], dict[str, int]]:
    """Prompt + chosen and prompt + rejected, tokenised like completion (or chat) rows.

    A pair whose chosen or rejected answer lost every token to truncation is dropped.
    """
    if not rendered:
        return [], {"truncated": 0, "dropped_no_target": 0}
    task = "chat" if rendered[0].messages else "completion"
    split = [answers(r) for r in rendered]
    chosen, cstats = tokenize([c for c, _ in split], tokenizer, task, max_len)
    rejected, rstats = tokenize([r for _, r in split], tokenizer, task, max_len)
    by_origin = {e.origin: e for e in rejected}  # a row's origin is unique within its data
    pairs = [Pair(c, by_origin[c.origin]) for c in chosen if c.origin in by_origin]
    return pairs, {"truncated": cstats.truncated + rstats.truncated, "dropped_no_target": len(rendered) - len(pairs)}


# What a dropped pair lost, for the error when truncation drops every training pair.
PAIR_LOST = "pair lost an answer"


class PairCollator:
    """Chosen then rejected sequences of each pair, with their precomputed reference log-probabilities."""

    runs_model = False  # host-side and pure: the loop prefetches its batches

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, pairs: Sequence[Pair]) -> PairBatch:
        seqs = collate_lm([(p.chosen,) for p in pairs] + [(p.rejected,) for p in pairs], self.pad_id, packed=False)
        if pairs[0].reference is None:
            return PairBatch(seqs, None)
        ref = [p.reference[0] for p in pairs] + [p.reference[1] for p in pairs]  # type: ignore[index]
        return PairBatch(seqs, torch.tensor(ref, dtype=torch.float32))


class DpoObjective:
    """A micro-batch's summed DPO loss and the summed pair statistics the loop logs."""

    def __init__(self, method: DpoMethod, reference: Reference | None):
        self.method, self.reference = method, reference

    def __call__(self, model: torch.nn.Module, batch: PairBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        policy = token_logps(model, batch.seqs).sum(-1)
        if batch.reference is not None:
            ref = batch.reference
        else:
            assert self.reference is not None, "reference = base keeps a reference model"
            ref = self.reference.sequence_logps(batch.seqs)
        m = self.method
        pc, pr = policy.chunk(2)
        rc, rr = ref.chunk(2)
        losses = dpo_loss(pc, pr, rc, rr, beta=m.beta, kind=m.loss, label_smoothing=m.label_smoothing)
        # The implicit rewards are reported, not trained on: no gradient through them.
        chosen, rejected = m.beta * (pc - rc).detach(), m.beta * (pr - rr).detach()
        return losses.sum(), pair_stats(chosen, rejected)


def precompute(
    pairs: Sequence[Pair], reference: Reference, collate: PairCollator, batch_size: int, device: torch.device
) -> list[Pair]:
    """The pairs with the reference's log-probabilities, computed once before training."""
    out: list[Pair] = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        logps = reference.sequence_logps(collate(chunk).seqs.to(device)).tolist()
        n = len(chunk)
        out += [replace(p, reference=(logps[j], logps[n + j])) for j, p in enumerate(chunk)]
    return out


@torch.no_grad()
def evaluate_pairs(
    model: torch.nn.Module,
    pairs: Sequence[Pair],
    objective: DpoObjective,
    collate: PairCollator,
    batch_size: int,
    device: torch.device,
) -> dict[str, float]:
    """Mean DPO loss, implicit rewards, margin and preference accuracy over pairs, in eval mode."""
    total = torch.zeros((), dtype=torch.float64, device=device)
    sums: dict[str, torch.Tensor] = {}
    with evaluating(model):
        for i in range(0, len(pairs), batch_size):
            loss, stats = objective(model, collate(pairs[i : i + batch_size]).to(device))
            total += loss.double()
            for k, v in stats.items():
                sums[k] = sums.get(k, 0) + v.double()
    n = max(1, len(pairs))
    return {
        "eval_loss": total.item() / n,
        "eval_examples": len(pairs),
        **{f"eval_{k}": v.item() / n for k, v in sums.items()},
    }


def dpo_workload(inputs: WorkloadInputs) -> Workload:
    """Tokenise the pairs, attach the adapter, set up the reference; what run.py trains."""
    method = inputs.plan.method
    assert isinstance(method, DpoMethod)
    ready = prepare(inputs, partial(tokenize_pairs, tokenizer=inputs.tokenizer, max_len=inputs.max_len), PAIR_LOST)
    model, train_pairs, eval_pairs = ready.model, ready.train, ready.eval
    precomputed = method.reference == "precomputed"
    reference = Reference(model, method.adapter is not None, before_training=precomputed)
    collate, batch_size, device = PairCollator(inputs.pad_id), inputs.batch_size, inputs.device
    if precomputed:
        train_pairs = precompute(train_pairs, reference, collate, batch_size, device)
        eval_pairs = precompute(eval_pairs, reference, collate, batch_size, device)
    objective = DpoObjective(method, None if precomputed else reference)
    evaluate = (
        (lambda: evaluate_pairs(model, eval_pairs, objective, collate, batch_size, device)) if eval_pairs else None
    )
    return Workload(
        model,
        ready.method,
        train_pairs,
        collate,
        objective,
        evaluate,
        summary=token_summary(train_pairs, eval_pairs, ready.train_stats, ready.eval_stats),
    )
