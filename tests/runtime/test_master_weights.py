"""`precision = bf16_master`: bfloat16 weights, float32 master copies stepped by the optimizer."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

from ftlang.compiler.summary import summarize
from ftlang.plan.memory import describe, estimate
from ftlang.plan.models import ComputePlan, FullMethod, LoraMethod, ModelPlan, ScratchModel
from ftlang.runtime.errors import RunError
from ftlang.runtime.run import run_plan
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.fits import model_shape
from ftlang.runtime.train.loop import Hooks, LoopConfig, LoopState, train
from ftlang.runtime.train.master_weights import MasterWeights
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.precision import resolve

from ..conftest import RECIPES
from .factories import chat_plan
from .test_distributed import RECIPE as DIST_RECIPE
from .test_distributed import ROWS

CPU = torch.device("cpu")


def tiny_bf16_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
    return LlamaForCausalLM(cfg).to(torch.bfloat16)


def _backward(model: LlamaForCausalLM, seed: int) -> None:
    ids = torch.randint(2, 64, (2, 12), generator=torch.Generator().manual_seed(seed))
    model(input_ids=ids, labels=ids).loss.backward()


def test_the_step_is_fp32_adamw_on_the_master_rounded_to_bf16():
    """Two steps: the masters equal torch's AdamW run on float32 copies of the starting weights
    with the bfloat16 gradients, and the model holds them rounded to bfloat16; a small update
    that bfloat16 alone would lose stays in the master."""
    model = tiny_bf16_llama()
    start = {n: p.detach().float().clone() for n, p in model.named_parameters()}
    masters = MasterWeights(model.parameters())
    opt = make_optimizer(model, 1e-4, 0.1, None, masters)
    reference = {n: torch.nn.Parameter(w.clone()) for n, w in start.items()}
    decay = [reference[n] for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [reference[n] for n, p in model.named_parameters() if p.ndim < 2]
    ref_opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4, fused=True
    )
    for seed in (1, 2):
        _backward(model, seed)
        for n, p in model.named_parameters():
            reference[n].grad = p.grad.float()
        masters.take_grads()
        opt.step()
        masters.write_back()
        opt.zero_grad()
        ref_opt.step()
    by_param = dict(zip([p for p, _ in masters.pairs], [m for _, m in masters.pairs]))
    for n, p in model.named_parameters():
        assert p.dtype == torch.bfloat16 and by_param[p].dtype == torch.float32
        assert torch.equal(by_param[p], reference[n].detach())
        assert torch.equal(p.detach(), reference[n].detach().to(torch.bfloat16))
    moved = [n for n in start if not torch.equal(reference[n].detach(), start[n])]
    assert moved and any(torch.equal(model.get_parameter(n).float(), start[n]) for n in moved)


@dataclass
class _Ids:
    """A micro-batch of token ids, each a loss target, as the loop counts them."""

    ids: torch.Tensor

    def __post_init__(self) -> None:
        self.n_targets = self.n_tokens = self.n_positions = self.ids.numel()

    def to(self, device: torch.device) -> _Ids:
        return self


def test_the_loop_clips_the_masters_gradients():
    """The loop's step clips the float32 gradients on the masters (the model's are gone by then):
    the masters equal SGD on float32 copies whose gradients torch's clip_grad_norm_ scaled down."""
    model = tiny_bf16_llama()
    reference = copy.deepcopy(model)
    masters = MasterWeights(model.parameters())
    optimizer = torch.optim.SGD(masters.stepped(list(model.parameters())), lr=1.0)
    batches: list[_Ids] = []

    def collate(rows: Sequence[torch.Tensor]) -> _Ids:
        ids = torch.stack(list(rows))
        batches.append(_Ids(ids))
        return batches[-1]

    def objective(m: torch.nn.Module, b: _Ids) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return m(input_ids=b.ids, labels=b.ids).loss.float() * b.n_targets, {}

    items = list(torch.randint(2, 64, (4, 12), generator=torch.Generator().manual_seed(5)))
    plan_precision = resolve(
        ComputePlan(precision="bf16_master"), ModelPlan(name="m", source=ScratchModel()), CPU, trains_base=True
    )
    train(
        model,
        items,
        task="chat",
        collator=collate,
        cfg=LoopConfig(1, 1, 4, 4, 0.01, 1, None, None),
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.ConstantLR(optimizer, 1.0),
        state=LoopState(DataOrder(len(items), 0)),
        device=CPU,
        hooks=Hooks(),
        objective=objective,
        precision=plan_precision,
        masters=masters,
    )
    (batch,) = batches
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (objective(reference, batch)[0] / batch.n_targets).backward()
    expected = [torch.nn.Parameter(p.detach().float()) for p in reference.parameters()]
    for e, p in zip(expected, reference.parameters()):
        e.grad = p.grad.float()
    assert torch.nn.utils.clip_grad_norm_(expected, 0.01) > 0.01  # the clip acts
    torch.optim.SGD(expected, lr=1.0).step()
    for (p, m), e in zip(masters.pairs, expected):
        assert torch.equal(m, e.detach())
        assert torch.equal(p.detach(), e.detach().to(torch.bfloat16))


def test_frozen_weights_get_no_master_and_one_without_a_gradient_is_not_stepped():
    model = tiny_bf16_llama()
    model.lm_head.weight.requires_grad_(False)
    model.register_parameter("unused", torch.nn.Parameter(torch.ones(4, 4, dtype=torch.bfloat16)))
    masters = MasterWeights(model.parameters())
    opt = make_optimizer(model, 1e-2, 0.1, None, masters)
    head, embed = model.lm_head.weight.detach().clone(), model.model.embed_tokens.weight.detach().clone()
    _backward(model, 4)
    masters.take_grads()
    opt.step()
    masters.write_back()
    assert all(p is not model.lm_head.weight for p, _ in masters.pairs)
    assert torch.equal(model.lm_head.weight, head)
    unused = next(m for p, m in masters.pairs if p is model.unused)
    assert torch.equal(unused, torch.ones(4, 4)) and torch.equal(model.unused, torch.ones(4, 4, dtype=torch.bfloat16))
    assert not torch.equal(model.model.embed_tokens.weight, embed)  # the step did step the rest


def test_the_masters_travel_with_the_optimizer_state():
    model = tiny_bf16_llama()
    masters = MasterWeights(model.parameters())
    opt = make_optimizer(model, 1e-2, 0.0, None, masters)
    _backward(model, 3)
    masters.take_grads()
    opt.step()
    saved = opt.state_dict()
    fresh = tiny_bf16_llama()
    fresh_masters = MasterWeights(fresh.parameters())
    make_optimizer(fresh, 1e-2, 0.0, None, fresh_masters).load_state_dict(saved)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(masters.pairs, fresh_masters.pairs))


def test_bf16_master_resolves_to_bf16_weights_on_any_device():
    model = ModelPlan(name="m", source=ScratchModel())
    got = resolve(ComputePlan(precision="bf16_master"), model, CPU, trains_base=True)
    assert (got.weights, got.autocast_dtype, got.master_weights) == (torch.bfloat16, torch.bfloat16, True)
    float32 = model.model_copy(update={"dtype": "float32"})
    with pytest.raises(RunError, match="keeps the weights in bfloat16"):
        resolve(ComputePlan(precision="bf16_master"), float32, CPU, trains_base=True)
    with pytest.raises(RunError, match="under FSDP"):
        resolve(ComputePlan(precision="bf16_master", strategy="fsdp", processes=2), model, CPU, trains_base=True)


def _losses(run_dir: Path) -> list[float]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if "loss" in r]


def test_a_full_run_trains_in_bf16_with_fp32_masters_and_reruns_bit_identically(tmp_path: Path):
    """Two runs give the same bits, and so does a run cut at its checkpoint and resumed: the
    masters come back from the checkpoint, not from the bfloat16 weights it saved."""
    train = {"max_steps": 6, "log_every": 1, "grad_clip": 1.0, "checkpoint_every": 2}
    plan = chat_plan(tmp_path, method=FullMethod(), train=train)
    plan = plan.model_copy(update={"compute": ComputePlan(precision="bf16_master", device="cpu")})
    first = run_plan(plan, tmp_path / "a", quiet=True)
    second = run_plan(plan, tmp_path / "b", quiet=True)
    run_plan(plan, tmp_path / "c", quiet=True, stop_after=4)
    resumed = run_plan(plan, resume=tmp_path / "c", quiet=True)
    losses = _losses(first.run_dir)
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert losses == _losses(second.run_dir) == _losses(resumed.run_dir)
    weights = [load_file(str(r.run_dir / "model" / "model.safetensors")) for r in (first, resumed)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert {t.dtype for t in weights[0].values()} == {torch.bfloat16}
    lock = json.loads((first.run_dir / "lock.json").read_text())
    assert (lock["levers"]["precision"], lock["levers"]["dtype"]) == ("bf16_master", "bfloat16")


def test_the_estimate_counts_the_masters():
    """bf16 weights (2 bytes), float32 masters and their gradients (4 + 4), AdamW's moments (8)."""
    plan = chat_plan(Path("."), method=FullMethod())
    plan = plan.model_copy(update={"compute": ComputePlan(precision="bf16_master", device="cpu")})
    shape = model_shape(plan)
    est = estimate(plan, shape, "cpu")
    n = shape.params
    assert (est.dtype, est.weights, est.master, est.gradients, est.optimizer) == (
        "bfloat16",
        2 * n,
        4 * n,
        4 * n,
        8 * n,
    )
    assert "+ master weights" in describe(est, "cpu")
    lora = estimate(plan.model_copy(update={"method": LoraMethod(rank=4, alpha=8)}), shape, "cpu")
    assert lora.master == 0  # peft's adapters are float32 already: stepped as they are


@pytest.mark.parametrize(
    ("precision", "method", "shown"),
    [
        ("bf16_master", FullMethod(), "auto (bfloat16)"),
        ("auto", FullMethod(), "auto (bfloat16 on a GPU, float32 on a CPU)"),
        ("fp16", FullMethod(), "auto (float32)"),  # fp16 training keeps the trained base in float32
        ("fp16", LoraMethod(rank=4, alpha=8), "auto (float16 on a GPU, float32 on a CPU)"),
    ],
)
def test_ft_plan_says_what_dtype_auto_loads(precision, method, shown):
    plan = chat_plan(Path("."), method=method)
    plan = plan.model_copy(update={"compute": ComputePlan(precision=precision)})
    levers_line = next(line for line in summarize(plan).splitlines() if line.lstrip().startswith("levers"))
    assert f" · dtype {shown} ·" in levers_line


# test_distributed's recipe with its model, data and prompt, full fine-tuning under bf16_master.
DDP_RECIPE = (
    DIST_RECIPE[: DIST_RECIPE.index("method ")]
    + """method full
train {
  max_steps = 6
  lr = 3e-3
  batch = 8
  micro_batch = 4
  max_len = 48
  seed = 1234
  log_every = 1
}
compute { precision = bf16_master }
"""
)


def test_two_ddp_processes_step_the_same_masters(tmp_path: Path):
    """Each process steps its own float32 masters from the averaged bfloat16 gradients: two
    processes follow one within bfloat16's rounding of the all-reduced gradients."""
    from .test_distributed import ft

    rows = (RECIPES / "data" / "instructions.jsonl").read_text().splitlines()[:ROWS]
    (tmp_path / "rows.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "tiny.ft").write_text(DDP_RECIPE)
    ft("run", str(tmp_path / "tiny.ft"), "--quiet", "--out", str(tmp_path / "one"))
    ft("run", str(tmp_path / "tiny.ft"), "--nproc", "2", "--quiet", "--out", str(tmp_path / "two"))
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == 6 and one[-1] < one[0]
    assert max(abs(a - b) for a, b in zip(one, two)) < 1e-3
