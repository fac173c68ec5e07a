"""Speed and memory levers on CPU: document-masked attention, checkpointing, optimizers, precision, QLoRA."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ftlang.plan.catalogue import OPTIMIZERS
from ftlang.plan.memory import estimate
from ftlang.plan.models import ComputePlan, ModelPlan, Optimizer, ScratchModel
from ftlang.runtime.data.batching import Collator, pack
from ftlang.runtime.data.document_mask import FLEX
from ftlang.runtime.data.prompts import IGNORE, Example
from ftlang.runtime.errors import RunError
from ftlang.runtime.run import run_plan
from ftlang.runtime.train import levers
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.fits import check_fits, model_shape
from ftlang.runtime.train.loop import LoopState
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.precision import resolve
from ftlang.runtime.train.prefetch import Prefetcher

from .factories import chat_plan

CPU = torch.device("cpu")


def ex(n: int, start: int) -> Example:
    ids = [(start + i) % 60 + 2 for i in range(n)]
    return Example(ids, ids, f"e{start}")


def tiny_llama(impl: str = "sdpa", layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=64,
        attn_implementation=impl,
    )
    return LlamaForCausalLM(cfg)


def resolved(train: dict[str, object], quantize: str | None = None) -> levers.Levers:
    """The levers of a tiny LoRA chat plan, resolved for the CPU."""
    plan = chat_plan(Path("."), train=train)
    plan = plan.model_copy(update={"model": plan.model.model_copy(update={"quantize": quantize})})
    return levers.resolve(plan, CPU)


def test_flex_document_mask_gives_each_example_its_own_logits():
    """Packed rows under FlexAttention's block mask, built from segment ids: every example's
    logits equal the example run alone, and equal the dense-mask reference."""
    model = tiny_llama().eval()
    exs = [ex(7, 1), ex(11, 20), ex(3, 40), ex(9, 5), ex(13, 9)]
    rows = pack(exs, 24)
    dense = Collator("chat", 0, True, "sdpa", torch.float32)(rows)
    flex = Collator("chat", 0, True, FLEX, torch.float32)(rows)
    assert flex.attention_mask.dim() == 2 and flex.segments is not None  # no [B, 1, L, L] on the host
    with torch.no_grad():
        reference = model(**dense.model_inputs()).logits
        model.set_attn_implementation(FLEX)
        packed = model(**flex.model_inputs()).logits
        model.set_attn_implementation("sdpa")
        for row, item in enumerate(rows):
            at = 0
            for e in item:
                n = len(e.input_ids)
                alone = model(input_ids=torch.tensor([e.input_ids])).logits[0]
                assert (packed[row, at : at + n] - alone).abs().max() < 1e-5
                at += n
    real = flex.segments >= 0
    assert (packed - reference)[real].abs().max() < 1e-5


def _loss_and_grads(model: LlamaForCausalLM, ids: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]


def test_gradient_checkpointing_keeps_loss_and_gradients():
    model = tiny_llama(layers=3).train()
    ids = torch.randint(2, 64, (2, 40), generator=torch.Generator().manual_seed(1))
    loss, grads = _loss_and_grads(model, ids)
    plan = resolved(train={"gradient_checkpointing": True})
    levers.prepare(model, plan)
    assert model.is_gradient_checkpointing
    loss_ckpt, grads_ckpt = _loss_and_grads(model, ids)
    assert abs(loss - loss_ckpt) < 1e-6
    assert max((a - b).abs().max().item() for a, b in zip(grads, grads_ckpt)) < 1e-6


@pytest.mark.parametrize("name", [n for n, spec in OPTIMIZERS.items() if not spec.cuda])
def test_each_optimizer_comes_from_its_library_and_steps(name: str):
    model = tiny_llama(layers=1)
    spec = Optimizer(kind=name, betas=[0.8, 0.95], eps=1e-7, momentum=0.5)
    opt = make_optimizer(model, 1e-2, 0.1, spec)
    module, cls = OPTIMIZERS[name].implementation.split(":")
    assert type(opt).__name__ == cls and type(opt).__module__.startswith(module.split(".")[0])
    group = opt.param_groups[0]
    if "betas" in OPTIMIZERS[name].settings:
        assert tuple(group["betas"]) == (0.8, 0.95) and group["eps"] == 1e-7
    if "momentum" in OPTIMIZERS[name].settings:
        assert group["momentum"] == 0.5
    before = [p.detach().clone() for p in model.parameters()]
    _loss_and_grads(model, torch.randint(2, 64, (2, 12)))
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_precision_resolves_per_device():
    model = ModelPlan(name="m", source=ScratchModel())
    auto = resolve(ComputePlan(), model, CPU, trains_base=True)
    assert (auto.compute, auto.weights, auto.autocast_dtype, auto.scaler()) == ("fp32", torch.float32, None, None)
    bf16 = resolve(ComputePlan(precision="bf16"), model, CPU, trains_base=True)
    with bf16.autocast():
        assert torch.ones(2, 2) @ torch.ones(2, 2) is not None
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert bf16.as_dict() == {"precision": "bf16", "dtype": "float32", "tf32": False}
    with pytest.raises(RunError, match="fp16` needs a CUDA GPU"):
        resolve(ComputePlan(precision="fp16"), model, CPU, trains_base=True)


def test_prefetched_batches_equal_the_ones_built_in_place():
    items = [(ex(n, n),) for n in range(3, 20)]
    collator = Collator("chat", 0, False, "sdpa", torch.float32)
    order, twin = DataOrder(len(items), 5), DataOrder(len(items), 5)
    prefetcher = Prefetcher(lambda idx: collator([items[i] for i in idx]))
    for _ in range(12):  # several epochs: the first step of each is built in place
        idx = order.take(4)
        got = prefetcher.get(idx)
        prefetcher.ahead(order.upcoming(4))
        want = collator([items[i] for i in twin.take(4)])
        assert torch.equal(got.input_ids, want.input_ids) and torch.equal(got.targets, want.targets)
    prefetcher.close()
    assert order.state_dict()["perm"] == twin.state_dict()["perm"]


def test_qlora_trains_a_tiny_llama_on_cpu(tmp_path: Path):
    """nf4 weights through bitsandbytes, peft's k-bit preparation, LoRA adapters, an 8-bit AdamW."""
    pytest.importorskip("bitsandbytes")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    tiny_llama(layers=2).save_pretrained(tmp_path)
    plan = resolved(train={"gradient_checkpointing": True, "optimizer": Optimizer(kind="adamw_8bit")}, quantize="nf4")
    model = AutoModelForCausalLM.from_pretrained(tmp_path, **levers.load_kwargs(plan))
    assert type(model.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    model = get_peft_model(levers.prepare(model, plan), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    opt = make_optimizer(model, 1e-2, 0.0, Optimizer(kind="adamw_8bit"))
    ids = torch.randint(2, 64, (2, 16), generator=torch.Generator().manual_seed(3))
    labels = ids.clone()
    labels[:, :2] = IGNORE
    losses = []
    for _ in range(4):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    frozen = copy.deepcopy([p for n, p in model.named_parameters() if "lora" not in n])
    assert all(not p.requires_grad for p in frozen)


def _run_with(tmp_path: Path, name: str, train: dict[str, object], compute: ComputePlan, quantize: str | None = None):
    plan = chat_plan(tmp_path, train={"max_steps": 3, **train})
    model = plan.model.model_copy(update={"quantize": quantize})
    plan = plan.model_copy(update={"model": model, "compute": compute})
    result = run_plan(plan, tmp_path / name, quiet=True)
    return result, json.loads((result.run_dir / "lock.json").read_text())


def test_a_run_honours_every_lever_and_records_them(tmp_path: Path):
    """Packed rows, checkpointing, Adafactor, bf16 autocast: the run trains with them and
    lock.json says what ran (FlexAttention trains on GPUs only: no backward on a CPU)."""
    compute = ComputePlan(precision="bf16", attention="eager", device="cpu")
    train = {"pack": True, "gradient_checkpointing": True, "optimizer": Optimizer(kind="adafactor")}
    result, lock = _run_with(tmp_path, "levers", train, compute)
    assert result.steps == 3 and math.isfinite(result.final_loss)
    assert lock["levers"] == {
        "precision": "bf16",
        "dtype": "float32",
        "tf32": False,
        "attention": "eager",
        "quantize": None,
        "gradient_checkpointing": True,
        "compile": False,
        "kernels": "none",
        "offload": False,
        "optimizer": "adafactor",
    }


def test_a_qlora_run_on_cpu(tmp_path: Path):
    pytest.importorskip("bitsandbytes")
    train = {"optimizer": Optimizer(kind="adamw_8bit"), "gradient_checkpointing": True}
    result, lock = _run_with(tmp_path, "qlora", train, ComputePlan(), quantize="nf4")
    assert result.steps == 3 and math.isfinite(result.final_loss)
    assert lock["levers"]["quantize"] == "nf4" and lock["levers"]["optimizer"] == "adamw_8bit"


def test_a_lever_this_device_lacks_stops_the_run_before_the_model_loads(tmp_path: Path):
    with pytest.raises(RunError, match="needs a CUDA GPU") as caught:
        _run_with(tmp_path, "fp16", {}, ComputePlan(precision="fp16"))
    assert caught.value.location == "compute.precision"
    assert not (tmp_path / "fp16").exists()


def test_a_run_that_would_not_fit_stops_before_loading(tmp_path: Path):
    plan = chat_plan(tmp_path)
    need = estimate(plan, model_shape(plan), "cpu").total
    check_fits(plan, CPU, available=need)  # exactly enough
    with pytest.raises(RunError, match=r"this run needs ≈ .* and the machine has") as caught:
        check_fits(plan, CPU, available=need - 1)
    assert "gradient_checkpointing = true" in (caught.value.help or "")


def test_the_report_says_which_levers_ran(tmp_path: Path):
    compute = ComputePlan(precision="bf16", device="cpu")
    result, _ = _run_with(tmp_path, "report", {"gradient_checkpointing": True}, compute)
    report = (result.run_dir / "report.md").read_text()
    assert "precision bf16 · weights float32 · attention sdpa · optimizer adamw · gradient checkpointing" in report


def test_compile_wraps_each_decoder_layer():
    """Regional compilation: every decoder layer, not the whole model (compiling runs on first use)."""
    model = tiny_llama(layers=2)
    plan = chat_plan(Path("."))
    run = levers.resolve(plan.model_copy(update={"compute": ComputePlan(compile=True)}), CPU)
    levers.prepare(model, run)
    layers = levers.decoder_layers(model)
    assert len(layers) == 2 and all(layer._compiled_call_impl is not None for layer in layers)
    assert model._compiled_call_impl is None


def test_the_language_doc_names_every_optimizer():
    text = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    assert [name for name in OPTIMIZERS if f"`{name}`" not in text] == []


def test_the_fp16_loss_scale_goes_into_checkpoints():
    """A resumed fp16 run continues from the loss scale it had, not from the initial 65,536."""
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    state = LoopState(DataOrder(4, 0), grad_scaler=scaler)
    restored = LoopState(DataOrder(4, 0))
    restored.load_state_dict(state.state_dict(), CPU)
    assert restored.grad_scaler is not None and restored.grad_scaler.get_scale() == 1024.0
    plain = LoopState(DataOrder(4, 0))
    plain.load_state_dict(LoopState(DataOrder(4, 0)).state_dict(), CPU)
    assert plain.grad_scaler is None
