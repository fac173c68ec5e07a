"""The chunked LM-head loss equals the model's own logits + cross-entropy, in value and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from ftlang.runtime.data.batching import collate_lm, singles
from ftlang.runtime.data.prompts import IGNORE, Example
from ftlang.runtime.methods import lm_loss
from ftlang.runtime.methods.lm_loss import linear_cross_entropy, plain_head
from ftlang.runtime.train.loop import loss_sum


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks smaller than the inputs, so the tests cross chunk boundaries.
    monkeypatch.setattr(lm_loss, "_chunk_rows", lambda vocab, device: 7)


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )


def test_value_and_gradients_match_plain_cross_entropy():
    torch.manual_seed(0)
    hidden = torch.randn(30, 8, requires_grad=True)
    weight = torch.randn(40, 8, requires_grad=True)
    targets = torch.randint(0, 40, (30,))
    targets[::4] = IGNORE
    ref = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=IGNORE, reduction="sum")
    (ref * 0.3).backward()
    want = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    got = linear_cross_entropy(hidden, weight, targets)
    (got * 0.3).backward()
    assert abs(got.item() - ref.item()) < 1e-4
    assert torch.allclose(hidden.grad, want[0], atol=1e-6)
    assert torch.allclose(weight.grad, want[1], atol=1e-6)
    with torch.no_grad():
        assert abs(linear_cross_entropy(hidden, weight, targets).item() - ref.item()) < 1e-4


def test_bfloat16_head_matches_its_own_logits():
    torch.manual_seed(0)
    hidden = torch.randn(20, 8, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(30, 8, dtype=torch.bfloat16, requires_grad=True)
    targets = torch.randint(0, 30, (20,))
    ref = F.cross_entropy((hidden @ weight.t()).float(), targets, reduction="sum")
    ref.backward()
    want = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    got = linear_cross_entropy(hidden, weight, targets)
    got.backward()
    assert weight.grad.dtype == torch.bfloat16 and abs(got.item() - ref.item()) < 1e-3 * abs(ref.item())
    assert torch.allclose(hidden.grad.float(), want[0].float(), atol=0.05, rtol=0.02)
    assert torch.allclose(weight.grad.float(), want[1].float(), atol=0.05, rtol=0.02)


def test_frozen_input_gets_no_gradient_work():
    hidden, weight = torch.randn(9, 4), torch.randn(6, 4, requires_grad=True)
    linear_cross_entropy(hidden, weight, torch.randint(0, 6, (9,))).backward()
    assert weight.grad is not None and hidden.grad is None


@pytest.mark.parametrize("lora", [False, True])
def test_loss_sum_through_the_head_equals_the_models_logits(lora: bool):
    model = tiny_llama()
    if lora:
        model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert plain_head(model) is not None
    exs = [
        Example(list(range(1, 12)), [IGNORE] * 3 + list(range(4, 12)), "a"),
        Example(list(range(5, 10)), list(range(5, 10)), "b"),
    ]
    batch = collate_lm(singles(exs), pad_id=0, packed=False)
    fast, _ = loss_sum(model, batch, "chat")
    fast.backward()
    fast_grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    logits = model(**batch.model_inputs()).logits
    slow = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    slow.backward()
    assert abs(fast.item() - slow.item()) < 1e-4
    for a, p in zip(fast_grads, [p for p in model.parameters() if p.requires_grad]):
        assert torch.allclose(a, p.grad, atol=1e-5)


def test_wrapped_heads_keep_the_models_own_forward():
    model = get_peft_model(tiny_llama(), LoraConfig(r=2, target_modules=["q_proj"], modules_to_save=["lm_head"]))
    assert plain_head(model) is None
