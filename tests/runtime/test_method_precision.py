"""Every forward pass of a method runs in the plan's precision, outside the loop's objective too: the
method's own evaluation, DPO's precomputed reference, GRPO's rollouts and their reference."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from ftlang.plan.models import (
    ComputePlan,
    DpoMethod,
    GrpoMethod,
    LoraMethod,
    OrpoMethod,
    Plan,
    Reward,
    RewardMethod,
    SimpoMethod,
)
from ftlang.runtime.data.rows import load_rows
from ftlang.runtime.methods.build import build_workload
from ftlang.runtime.methods.rewards import reward_fields
from ftlang.runtime.methods.workload import Workload
from ftlang.runtime.models import load_for_run, pad_token_id, sequence_length
from ftlang.runtime.train import levers
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.loop import Hooks, LoopConfig, LoopState, train
from ftlang.runtime.train.precision import Precision

from .factories import generation_plan, preference_plan
from .test_preference_methods import _kto_plan

CPU = torch.device("cpu")
LORA = LoraMethod(rank=8, alpha=16)
GRPO = GrpoMethod(rewards=[Reward(kind="regex", pattern=r"^\d")], group_size=2, max_new_tokens=3, beta=0.1)


def _plans(root: Path) -> dict[str, Plan]:
    small = {"batch": 4}
    return {
        "dpo": preference_plan(root, method=DpoMethod(beta=0.5, adapter=LORA), train=small),
        "dpo_precomputed": preference_plan(
            root, method=DpoMethod(beta=0.5, reference="precomputed", adapter=LORA), train=small
        ),
        "kto": _kto_plan(root),
        "orpo": preference_plan(root, method=OrpoMethod.model_validate({"lambda": 1.0, "adapter": LORA}), train=small),
        "simpo": preference_plan(root, method=SimpoMethod(adapter=LORA), train=small),
        "reward": preference_plan(root, method=RewardMethod(adapter=LORA), train=small),
        "grpo": generation_plan(root, method=GRPO, train=small, eval_on="eval"),
    }


def _workload(plan: Plan, run_dir: Path, precision: Precision | None = None) -> Workload:
    """The run's own path to a workload (run.py's `_set_up`), its trained weights nudged off the
    reference's so that the preference losses are not log 2 whatever the precision."""
    rows = load_rows(plan, reward_fields(plan.method), quiet=True)
    run_levers = levers.resolve(plan, CPU)
    model, tok, _ = load_for_run(plan, run_dir, rows.labels, rows.train, run_levers)
    torch.manual_seed(0)
    max_len = sequence_length(model, plan.train.max_len)
    work = build_workload(plan, model, tok, rows, max_len, pad_token_id(tok), CPU, precision or run_levers.precision)
    nudge = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in work.model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn(p.shape, generator=nudge))
    return work


def _bf16(kind: str, root: Path) -> tuple[Plan, Path, Workload]:
    """A method's plan in bf16 on the CPU, its run folder and its workload."""
    plan = _plans(root)[kind]
    plan = plan.model_copy(update={"compute": ComputePlan(precision="bf16", device="cpu")})
    run_dir = root / kind
    run_dir.mkdir()
    return plan, run_dir, _workload(plan, run_dir)


def _pair(kind: str, root: Path) -> tuple[Workload, Workload]:
    """The workload of a bf16-on-CPU plan, and the same workload built and run with no precision of
    its own: what torch's autocast around it gives is the reference."""
    plan, run_dir, bf16 = _bf16(kind, root)
    none = dataclasses.replace(levers.resolve(plan, CPU).precision, compute="fp32")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reference = _workload(plan, run_dir, none)
    return bf16, reference


def _dtypes_seen(model: Any) -> list[torch.dtype]:
    """The output dtype of the model's first plain linear layer (a LoRA layer's base) at each pass."""
    first = next(m for m in model.modules() if type(m) is torch.nn.Linear)
    seen: list[torch.dtype] = []
    first.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("kind", ["dpo", "dpo_precomputed", "kto", "orpo", "simpo", "reward", "grpo"])
def test_a_methods_evaluation_runs_in_the_plans_precision(kind: str, tmp_path: Path) -> None:
    bf16, reference = _pair(kind, tmp_path)
    assert bf16.evaluate is not None and reference.evaluate is not None
    seen = _dtypes_seen(bf16.model)
    measured = bf16.evaluate()
    assert seen and set(seen) == {torch.bfloat16}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = reference.evaluate()
    assert measured == expected
    if "eval_loss" in measured:  # the precision shows in the numbers, not only in the dtypes
        assert measured["eval_loss"] != reference.evaluate()["eval_loss"]


def test_grpo_samples_and_scores_its_rollouts_in_the_plans_precision(tmp_path: Path) -> None:
    bf16, reference = _pair("grpo", tmp_path)
    prompts = list(bf16.items[:2])
    seen = _dtypes_seen(bf16.model)
    batch = bf16.collator(prompts)
    assert seen and set(seen) == {torch.bfloat16}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = reference.collator(prompts)
    assert torch.equal(batch.seqs.input_ids, expected.seqs.input_ids)
    assert batch.reference is not None and torch.equal(batch.reference, expected.reference)
    assert not torch.equal(batch.reference, reference.collator(prompts).reference)


@pytest.mark.parametrize("kind", ["dpo", "kto", "orpo", "simpo", "reward", "grpo"])
def test_a_training_step_runs_policy_and_reference_in_the_plans_precision(kind: str, tmp_path: Path) -> None:
    """The loop's step as run.py drives it: the objective (the policy, and DPO's and KTO's reference
    beside it) and the collator (GRPO's sampling and reference) all compute in bf16."""
    plan, _, work = _bf16(kind, tmp_path)
    seen = _dtypes_seen(work.model)
    params = [p for p in work.model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.0)
    cfg = LoopConfig(1, 1, 4, 4, None, 1, None, None)
    train(
        work.model,
        work.items,
        task=plan.prompt.task,
        collator=work.collator,
        cfg=cfg,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.ConstantLR(optimizer, 1.0),
        state=LoopState(DataOrder(len(work.items), plan.train.seed), seeds=work.seeds),
        device=CPU,
        hooks=Hooks(),
        objective=work.objective,
        precision=levers.resolve(plan, CPU).precision,
    )
    # The policy's pass, and the reference's beside it (GRPO: its sampling's too).
    assert len(seen) >= (1 if kind in ("orpo", "simpo", "reward") else 2) and set(seen) == {torch.bfloat16}
