"""GRPO (Shao et al. 2024, DeepSeekMath): sample a group per prompt, reward it, update the policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.models import Generation, GrpoMethod
from ftlang.runtime.data.batching import collate_lm
from ftlang.runtime.data.prompts import IGNORE, Example, Rendered
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.policy import Reference, SequenceBatch, evaluating, target_mask, token_logps
from ftlang.runtime.methods.rewards import Rewards
from ftlang.runtime.methods.workload import Workload, WorkloadInputs, prepare
from ftlang.runtime.sampling import Generators, SamplingSeeds, sample
from ftlang.runtime.train import distributed


@dataclass(frozen=True)
class Prompt:
    """A tokenised generation prompt; `text` and `row` are what the rewards see, `index` its place
    in the split (what keys its completions' sampling seeds)."""

    ids: list[int]
    text: str
    row: Mapping[str, Any]
    origin: str
    index: int


@dataclass
class RolloutBatch(SequenceBatch):
    """Prompts with their sampled completions (`seqs`: the completions and their EOS are the
    targets), advantages, and the reference's log-probabilities."""

    advantages: torch.Tensor  # [completions]
    reference: torch.Tensor | None  # [completions, length] per-token, None when beta = 0
    stats: dict[str, torch.Tensor]  # sums over the completions: rewards, tokens

    @property
    def n_targets(self) -> int:  # the loss is a mean over completions
        return self.seqs.input_ids.shape[0]

    def to(self, device: torch.device) -> RolloutBatch:
        ref = None if self.reference is None else self.reference.to(device)
        return RolloutBatch(
            self.seqs.to(device), self.advantages.to(device), ref, {k: v.to(device) for k, v in self.stats.items()}
        )


def tokenize_prompts(rendered: Sequence[Rendered], tokenizer: Any, limit: int) -> tuple[list[Prompt], int]:
    """Prompt token ids (with the tokenizer's leading specials), at most `limit` long.

    A longer prompt keeps its end, where the question is asked; the count is returned.
    """
    if not rendered:  # fast tokenizers fail on an empty batch
        return [], 0
    trailing = set(tokenizer.all_special_ids) - {tokenizer.bos_token_id}
    prompts, truncated = [], 0
    for index, (r, ids) in enumerate(zip(rendered, tokenizer([r.input for r in rendered])["input_ids"])):
        ids = list(ids)
        # A tokenizer that closes every text with a special ([SEP], </s>) would have the
        # model continue after an end marker: drop it.
        while len(ids) > 1 and ids[-1] in trailing:
            ids.pop()
        if len(ids) > limit:
            ids, truncated = ids[-limit:], truncated + 1
        prompts.append(Prompt(ids, r.input, r.row, r.origin, index))
    return prompts, truncated


def group_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """[prompts, group] rewards -> (r − group mean) / (group std + 1e-4), the paper's outcome advantage.

    A group whose completions all score the same gets 0: it carries no preference.
    """
    mean = rewards.mean(-1, keepdim=True)
    std = rewards.std(-1, keepdim=True)  # unbiased, as TRL computes it
    return (rewards - mean) / (std + 1e-4)


class Scorer:
    """Generates completions for prompts and scores them with the recipe's rewards."""

    def __init__(self, model: Any, rewards: Rewards, tokenizer: Any, pad_id: int, device: torch.device):
        self.model, self.rewards, self.tokenizer = model, rewards, tokenizer
        self.pad_id, self.device = pad_id, device

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int,
        temperature: float | None,
        generator: Generators,
        lockstep: bool = False,
    ) -> list[list[int]]:
        with evaluating(self.model):  # no dropout while sampling: the policy as it stands
            return sample(
                self.model,
                [p.ids for p in prompts],
                max_new_tokens=max_new_tokens,
                eos_id=self.tokenizer.eos_token_id,
                pad_id=self.pad_id,
                device=self.device,
                temperature=temperature,
                generator=generator,
                lockstep=lockstep,
            )

    def score(
        self, prompts: Sequence[Prompt], completions: Sequence[list[int]]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Each completion's total reward, and sums over completions of each term and of tokens."""
        eos = self.tokenizer.eos_token_id
        # The rewards see every token the model wrote but the closing EOS: special tokens that
        # decoded to nothing would let a policy pad its answer for free (scratch models learn that).
        texts = self.tokenizer.batch_decode(
            [c[:-1] if c[-1] == eos else c for c in completions], skip_special_tokens=False
        )
        values = [self.rewards.score(p.text, t, p.row, p.origin) for p, t in zip(prompts, texts)]
        per_term = torch.tensor(values, dtype=torch.float64, device=self.device)
        totals = torch.tensor([self.rewards.total(v) for v in values], dtype=torch.float64, device=self.device)
        sums = {
            "reward": totals.sum(),
            **{f"reward_{n}": per_term[:, i].sum() for i, n in enumerate(self.rewards.names)},
            "completion_tokens": torch.tensor(float(sum(map(len, completions))), device=self.device),
        }
        return totals, sums


class Rollouts:
    """The collator of GRPO: a slice of prompts becomes a batch of sampled, scored completions.

    Sampling happens when the loop collates a step's micro-batches, before its first
    backward pass, so every completion of a step comes from the same policy (on-policy).
    Each completion draws from its own generator, keyed by the step, its prompt's index and
    its place in the group: several processes, each sampling its share of the prompts, draw
    the completions one process draws. A group never splits, so its advantages are computed
    where it was sampled.
    """

    runs_model = True  # samples from this step's policy: collated on the main thread, in step order

    def __init__(self, scorer: Scorer, method: GrpoMethod, reference: Reference | None, seeds: SamplingSeeds):
        self.scorer, self.method, self.reference, self.seeds = scorer, method, reference, seeds

    def __call__(self, prompts: Sequence[Prompt]) -> RolloutBatch:
        m, device = self.method, self.scorer.device
        asks = [p for p in prompts for _ in range(m.group_size)]
        generators = [self.seeds.generator(p.index, k, device) for p in prompts for k in range(m.group_size)]
        lockstep = distributed.is_sharded(self.scorer.model)
        completions = self.scorer.generate(asks, m.max_new_tokens, m.temperature, generators, lockstep)
        totals, sums = self.scorer.score(asks, completions)
        advantages = group_advantages(totals.view(-1, m.group_size)).view(-1).float()
        examples = [(Example(p.ids + c, [IGNORE] * len(p.ids) + c, p.origin),) for p, c in zip(asks, completions)]
        # The batch stays on the host, like every collated batch: the loop moves it (pinned).
        seqs = collate_lm(examples, self.scorer.pad_id, packed=False)
        ref = self.reference.token_logps(seqs.to(self.scorer.device), m.temperature) if self.reference else None
        return RolloutBatch(seqs, advantages, ref, sums)


def _per_sequence(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each completion's own tokens: the paper's 1/|o_i| Σ_t."""
    return (values * mask).sum(-1) / mask.sum(-1)


class GrpoObjective:
    """A micro-batch's summed GRPO loss: −(clipped surrogate − β·KL), averaged per completion."""

    def __init__(self, method: GrpoMethod):
        self.method = method

    def __call__(self, model: torch.nn.Module, batch: RolloutBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        m = self.method
        logps = token_logps(model, batch.seqs, m.temperature)
        mask = target_mask(batch.seqs).to(logps.dtype)
        # One update per batch of rollouts: π_old is the policy that just sampled, so its
        # log-probabilities are these, detached. The ratio is 1 in value and its gradient is
        # the policy gradient; the clip would bite only if a batch were reused.
        ratio = torch.exp(logps - logps.detach())
        adv = batch.advantages[:, None]
        per_token = -torch.min(ratio * adv, ratio.clamp(1 - m.clip, 1 + m.clip) * adv)
        stats = dict(batch.stats)
        if batch.reference is not None:
            # The paper's estimator (Schulman's k3): π_ref/π − log(π_ref/π) − 1, unbiased and ≥ 0.
            delta = batch.reference - logps
            kl = torch.exp(delta) - delta - 1
            per_token = per_token + m.beta * kl
            stats["kl"] = _per_sequence(kl.detach(), mask).sum()
        return _per_sequence(per_token, mask).sum(), stats


@torch.no_grad()
def evaluate_prompts(
    scorer: Scorer, prompts: Sequence[Prompt], generation: Generation, batch_size: int
) -> dict[str, float]:
    """Mean rewards of one completion per eval prompt, sampled as the eval block's `generate` says.

    Greedy by default; with `sample = true` a fresh generator seeded by `generate.seed`, so every
    evaluation draws the same way and none disturbs training's generator.
    """
    temperature = generation.temperature if generation.sample else None
    generator = torch.Generator(device=scorer.device).manual_seed(generation.seed) if generation.sample else None
    sums: dict[str, torch.Tensor] = {}
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i : i + batch_size]
        completions = scorer.generate(chunk, generation.max_new_tokens, temperature, generator)
        for k, v in scorer.score(chunk, completions)[1].items():
            sums[k] = sums.get(k, 0) + v
    n = len(prompts)
    return {"eval_examples": n, **{f"eval_{k}": v.item() / n for k, v in sums.items()}}


def grpo_workload(inputs: WorkloadInputs) -> Workload:
    """Tokenise the prompts, attach the adapter, set up reference and sampler; what run.py trains."""
    plan, method = inputs.plan, inputs.plan.method
    assert isinstance(method, GrpoMethod)
    limit = inputs.max_len - method.max_new_tokens
    if limit < 1:
        raise RunError(
            f"max_len {inputs.max_len} leaves no room for a prompt before {method.max_new_tokens} new tokens",
            location="method grpo",
            help="raise max_len or lower max_new_tokens",
        )
    ready = prepare(
        inputs, partial(tokenize_prompts, tokenizer=inputs.tokenizer, limit=limit), "prompt lost its tokens"
    )
    model, device = ready.model, inputs.device
    reference = Reference(model, method.adapter is not None) if method.beta > 0 else None
    scorer = Scorer(model, Rewards(method.rewards, Path(plan.root)), inputs.tokenizer, inputs.pad_id, device)
    # Seeds of their own, from the run's seed: the completions do not depend on how many numbers
    # dropout drew, nor on which process samples them, and a resumed run samples the same ones.
    seeds = SamplingSeeds(plan.train.seed)
    evaluate = (
        partial(evaluate_prompts, scorer, ready.eval, plan.eval.generation, inputs.batch_size)
        if plan.eval and ready.eval
        else None
    )
    return Workload(
        model,
        ready.method,
        ready.train,
        Rollouts(scorer, method, reference, seeds),
        GrpoObjective(method),
        evaluate,
        seeds=seeds,
        summary={
            "train_examples": len(ready.train),
            "eval_examples": len(ready.eval),
            "truncated": ready.train_stats + ready.eval_stats,
            "group_size": method.group_size,
        },
    )
