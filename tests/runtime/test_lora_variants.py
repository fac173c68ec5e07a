"""LoRA's peft options: all linear layers, DoRA, rsLoRA and the initialisations reach peft's own config."""

from __future__ import annotations

import pytest
import torch

from ftlang.plan.models import LoraMethod, ScratchModel
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
