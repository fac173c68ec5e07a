"""LoRA's peft options: all linear layers, DoRA, rsLoRA and the initialisations reach peft's own config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ftlang.compiler.modelpeek import model_facts
from ftlang.plan.models import LoraMethod, ScratchModel
from ftlang.runtime import RunError
from ftlang.runtime.methods.adapters import apply_method
from ftlang.runtime.models import build_scratch_model, train_scratch_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_scratch_tokenizer(["a ticket about a refund goes to billing"] * 20, 120)


def _adapted(tokenizer, **fields):
    model = build_scratch_model(ScratchModel(hidden=32, layers=2, heads=4), tokenizer, "completion", seed=0)
    before = model(torch.tensor([[1, 2, 3]])).logits
    peft_model, info = apply_method(model, LoraMethod(rank=4, alpha=8, **fields), "completion")
    return peft_model, info, before


def test_all_linear_targets_every_linear_layer_but_the_head(tokenizer):
    _, info, _ = _adapted(tokenizer, targets="all_linear")
    assert info.targets == ("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj")


@pytest.mark.parametrize(
    ("fields", "config"),
    [
        ({"dora": True}, {"use_dora": True}),
        ({"rslora": True}, {"use_rslora": True}),
        ({"init": "gaussian"}, {"init_lora_weights": "gaussian"}),
        ({"init": "pissa"}, {"init_lora_weights": "pissa"}),
        ({"init": "olora"}, {"init_lora_weights": "olora"}),
        ({}, {"init_lora_weights": True, "use_dora": False, "use_rslora": False}),
    ],
)
def test_each_option_reaches_peft_and_starts_from_the_base(tokenizer, fields, config):
    model, _, before = _adapted(tokenizer, **fields)
    peft_config = model.peft_config["default"]
    assert {k: getattr(peft_config, k) for k in config} == config
    # Every initialisation starts where the base was: PiSSA and OLoRA move part of each weight
    # into the adapter and leave the residual in the base, so their sum is the base's weight.
    after = model(torch.tensor([[1, 2, 3]])).logits
    assert (after - before).abs().max().item() < 1e-4
    if fields.get("init") in ("pissa", "olora"):
        with model.disable_adapter():
            assert (model(torch.tensor([[1, 2, 3]])).logits - before).abs().max().item() > 1e-3


def test_rslora_scales_by_the_square_root_of_the_rank(tokenizer):
    model, _, _ = _adapted(tokenizer, rslora=True)
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(8 / 4**0.5)


# What `ft check` refuses from the model's config (E0313, E0314, E0340) is what peft itself does
# once the model has loaded: each case below runs peft on a model built from the golden case's config.
CONFIGS = Path(__file__).resolve().parents[1] / "data" / "diagnostics" / "data"


def _from_config(folder: str) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(CONFIGS / folder)).eval()  # no dropout


def test_all_linear_without_blocks_leaves_peft_nothing_to_adapt():
    assert model_facts({"kind": "local", "path": "llama-no-layers"}, CONFIGS).only_linear_is_the_head
    with pytest.raises(RunError, match="LoRA cannot attach"):
        apply_method(_from_config("llama-no-layers"), LoraMethod(targets="all_linear"), "completion")
    one_block = model_facts({"kind": "scratch", "layers": 1}, CONFIGS)
    assert one_block is not None and not one_block.only_linear_is_the_head


def test_olora_breaks_on_gpt2s_conv1d_layers_where_pissa_fits():
    assert model_facts({"kind": "local", "path": "gpt2"}, CONFIGS).conv1d_layers
    ids = torch.tensor([[1, 2, 3]])
    model = _from_config("gpt2")
    before = model(ids).logits
    pissa, _ = apply_method(model, LoraMethod(rank=4, init="pissa"), "completion")
    assert (pissa(ids).logits - before).abs().max().item() < 1e-4
    olora, _ = apply_method(_from_config("gpt2"), LoraMethod(rank=4, init="olora"), "completion")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        olora(ids)


def test_olora_and_dora_take_a_quantized_base_and_pissa_does_not(tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    build_scratch_model(ScratchModel(hidden=64, layers=1, heads=4), tokenizer, "completion", seed=0).save_pretrained(
        tmp_path
    )

    def quantized() -> Any:
        nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
        return AutoModelForCausalLM.from_pretrained(tmp_path, quantization_config=nf4)

    for fields in ({"init": "olora"}, {"dora": True, "rslora": True}):
        model, _ = apply_method(quantized(), LoraMethod(rank=4, **fields), "completion")
        assert torch.isfinite(model(torch.tensor([[1, 2, 3]])).logits).all()
    with pytest.raises(TypeError, match="Please initialize PiSSA under float32"):
        apply_method(quantized(), LoraMethod(rank=4, init="pissa"), "completion")


def test_a_module_in_targets_and_also_train_gets_no_adapter(tokenizer):
    model, _, _ = _adapted(tokenizer, targets=["q_proj", "v_proj"], also_train=["q_proj"])
    attention = model.base_model.model.model.layers[0].self_attn
    assert not hasattr(attention.q_proj, "lora_A") and hasattr(attention.v_proj, "lora_A")
    with pytest.raises(RunError, match="LoRA cannot attach"):
        _adapted(tokenizer, targets=["q_proj"], also_train=["q_proj"])
