"""DPO: the losses against the published formulas, pair tokenisation, and runs that learn."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from ftlang.plan.models import DpoMethod, LoraMethod
from ftlang.runtime import RunError, run_plan
from ftlang.runtime.data.prompts import IGNORE, Rendered
from ftlang.runtime.methods.dpo import dpo_loss, tokenize_pairs
from ftlang.runtime.models import train_scratch_tokenizer

from .factories import chat_plan, preference_plan
from .test_resume import assert_resumes_like, records


def _log_sigmoid(x: float) -> float:
    return math.log(1 / (1 + math.exp(-x)))


def test_losses_match_the_published_formulas():
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (torch.randn(64, generator=g, dtype=torch.float64) * 4 for _ in range(4))
    hs = [(a - c) - (b - d) for a, b, c, d in zip(pc.tolist(), pr.tolist(), rc.tolist(), rr.tolist())]
    for beta, eps in [(0.1, 0.0), (0.5, 0.2), (2.0, 0.1)]:
        expected = {
            # Rafailov et al. 2023, with cDPO's label smoothing: the label is wrong with prob. ε.
            "sigmoid": [-(1 - eps) * _log_sigmoid(beta * h) - eps * _log_sigmoid(-beta * h) for h in hs],
            "ipo": [(h - 1 / (2 * beta)) ** 2 for h in hs],  # Azar et al. 2023
            "hinge": [max(0.0, 1 - beta * h) for h in hs],  # SLiC
        }
        for kind, want in expected.items():
            got = dpo_loss(pc, pr, rc, rr, beta=beta, kind=kind, label_smoothing=eps if kind == "sigmoid" else 0.0)
            assert got.dtype == torch.float64
            assert max(abs(a - b) for a, b in zip(got.tolist(), want)) < 1e-6, (kind, beta, eps)


def test_pairs_put_the_loss_on_the_answers_only():
    tok = train_scratch_tokenizer(["Question: which team? Answer: billing shipping"] * 20, 120)
    rows = [
        Rendered("p.jsonl:1", input="Question: which team? Answer:", chosen=" billing", rejected=" shipping"),
        Rendered("p.jsonl:2", messages=(("user", "which team?"),), chosen="billing", rejected="shipping"),
    ]
    pairs, stats = tokenize_pairs(rows, tok, max_len=64)
    assert stats == {"truncated": 0, "dropped_no_target": 0}

    def answer(ex):
        return tok.decode([t for t in ex.labels if t != IGNORE])

    assert [(answer(p.chosen), answer(p.rejected)) for p in pairs] == [
        (" billing</s>", " shipping</s>"),
        ("billing</s>", "shipping</s>"),
    ]
    # Both sequences of a pair share the prompt tokens; only the answers differ.
    prompt = [t for t, lab in zip(pairs[0].chosen.input_ids, pairs[0].chosen.labels) if lab == IGNORE]
    assert pairs[0].rejected.input_ids[: len(prompt)] == prompt
    # An answer cut away entirely by max_len drops the whole pair.
    short, stats = tokenize_pairs(rows[:1], tok, max_len=len(prompt))
    assert short == [] and stats["dropped_no_target"] == 1


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo")
    plan = preference_plan(root, train={"checkpoint_every": 4})
    return plan, run_plan(plan, root / "run", quiet=True)


def test_dpo_learns_the_training_preferences(dpo_run):
    plan, result = dpo_run
    s = result.metrics
    # Before the first step the policy is the reference: every implicit reward is 0.
    assert s["base_eval_preference_accuracy"] == 0.0 and s["base_eval_reward_margin"] == 0.0
    assert s["eval_preference_accuracy"] >= 0.9
    train = [r for r in records(result.run_dir) if "loss" in r]
    early = sum(r["reward_margin"] for r in train[:4]) / 4
    late = sum(r["reward_margin"] for r in train[-4:]) / 4
    assert late > early + 0.2 and s["eval_reward_margin"] > 0.2
    assert s["method"]["kind"] == "dpo/lora" and (result.run_dir / "model" / "adapter_config.json").is_file()


def test_a_precomputed_reference_trains_like_the_live_one(dpo_run, tmp_path: Path):
    plan, result = dpo_run
    method = DpoMethod(beta=0.5, reference="precomputed", adapter=LoraMethod(rank=8, alpha=16))
    pre = run_plan(plan.model_copy(update={"method": method}), tmp_path / "pre", quiet=True)
    # The same numbers up to float rounding: the reference saw other batches, other padding.
    live, cached = records(result.run_dir), records(pre.run_dir)
    assert [r["step"] for r in live] == [r["step"] for r in cached]
    for a, b in zip(live, cached):
        for key in ("loss", "reward_margin", "eval_loss"):
            if key in a:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (a["step"], key)


def test_kill_and_resume_match_the_uninterrupted_run(dpo_run, tmp_path: Path):
    assert_resumes_like(*dpo_run, tmp_path / "killed")


def test_full_dpo_uses_a_frozen_copy_and_learns(tmp_path: Path):
    plan = preference_plan(tmp_path, method=DpoMethod(beta=0.5, loss="ipo"), train={"lr": 1e-3})
    result = run_plan(plan, tmp_path / "run", quiet=True)
    assert result.metrics["method"]["kind"] == "dpo/full"
    assert result.metrics["eval_preference_accuracy"] >= 0.9
    assert (result.run_dir / "model" / "model.safetensors").is_file()


def test_dpo_mistakes_are_run_errors(tmp_path: Path):
    with pytest.raises(RunError, match="method dpo cannot learn from a chat prompt"):
        run_plan(chat_plan(tmp_path, method=DpoMethod()), tmp_path / "x", quiet=True)
    hinge = preference_plan(tmp_path, method=DpoMethod(loss="hinge", label_smoothing=0.1))
    with pytest.raises(RunError, match="label_smoothing applies to loss = sigmoid"):
        run_plan(hinge, tmp_path / "y", quiet=True)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
