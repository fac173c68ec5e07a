"""A quantized base on the CPU holds its quantized weights, not its checkpoint file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from ftlang.runtime.train import levers

from .factories import chat_plan


def _mapped(folder: Path) -> list[str]:
    return [line for line in Path("/proc/self/maps").read_text().splitlines() if str(folder) in line]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map (Linux)")
@pytest.mark.parametrize("tied", [False, True])
def test_a_quantized_load_lets_its_checkpoint_go(tmp_path: Path, tied: bool):
    """The weights left unquantized (embeddings, head, norms) were views of the memory-mapped
    file, which kept every page read while quantizing resident; after `prepare` nothing maps it
    and those weights are what the file holds; a head tied to the embeddings stays one tensor."""
    pytest.importorskip("bitsandbytes")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    cfg.tie_word_embeddings = tied
    LlamaForCausalLM(cfg).save_pretrained(tmp_path)
    plan = chat_plan(Path("."))
    plan = plan.model_copy(update={"model": plan.model.model_copy(update={"quantize": "nf4"})})
    run = levers.resolve(plan, torch.device("cpu"))
    model = AutoModelForCausalLM.from_pretrained(tmp_path, **levers.load_kwargs(run))
    assert _mapped(tmp_path)  # what this guards against: transformers maps the file
    embedding = model.get_input_embeddings().weight.detach().clone()
    model = levers.prepare(model, run)
    assert _mapped(tmp_path) == []
    assert torch.equal(model.get_input_embeddings().weight, embedding)
    head, embeddings = model.get_output_embeddings().weight, model.get_input_embeddings().weight
    assert (head.data_ptr() == embeddings.data_ptr()) == tied
