"""run_plan end to end: the run directory, reloading the result, reproducibility, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ftlang.plan.canonical import load_plan, plan_hash
from ftlang.plan.models import FullMethod, LoraMethod
from ftlang.runtime import RunError, evaluate_loss, run_plan
from ftlang.runtime.data.batching import Collator
from ftlang.runtime.data.prompts import Renderer, tokenize
from ftlang.runtime.quiet import quiet_libraries

from .factories import arithmetic, chat_plan, classify_plan, tickets

WALL_CLOCK = ("elapsed", "tok_s")


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_clock(recs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in recs]


def eval_examples(plan, tok):
    """The eval split rendered and tokenised exactly as the run did it."""
    from ftlang.runtime.data.sources import load_data

    loaded = load_data(plan.data[0], Path(plan.root), plan.prompt.fields)
    rows = loaded.rows(plan.eval.on.split)
    return tokenize([Renderer(plan.prompt).render(r) for r in rows], tok, plan.prompt.task, plan.train.max_len)[0]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    plan = chat_plan(
        root,
        split={"train": 0.8, "eval": 0.2},
        eval_on="eval",
        train={"eval_every": 5, "checkpoint_every": 5, "schedule": {"kind": "cosine", "warmup": 0.2}},
    )
    return plan, run_plan(plan, root / "run", quiet=True)


def test_run_directory_layout(lora_run):
    plan, result = lora_run
    d = result.run_dir
    for name in (
        "plan.json",
        "lock.json",
        "metrics.jsonl",
        "summary.json",
        "model/adapter_config.json",
        "model/adapter_model.safetensors",
        "model/tokenizer.json",
        "base/config.json",
        "base/model.safetensors",
        "base/tokenizer.json",
    ):
        assert (d / name).is_file(), name
    assert plan_hash(load_plan((d / "plan.json").read_text())) == plan_hash(plan)
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == ["step-00000005", "step-00000010"]
    lock = json.loads((d / "lock.json").read_text())
    assert lock["plan_hash"] == plan_hash(plan) and lock["seed"] == plan.train.seed
    assert {"python", "torch", "transformers", "peft", "ftlang"} <= set(lock["versions"])
    assert lock["model"]["kind"] == "scratch" and lock["model"]["weights_sha256"]["model.safetensors"]
    assert lock["device"]["type"] == "cpu" and lock["method"]["targets"] == ["q_proj", "v_proj"]
    assert lock["data"][0]["stats"]["split_eval"] + lock["data"][0]["stats"]["split_train"] == 48


def test_metrics_records(lora_run):
    _, result = lora_run
    recs = records(result.run_dir)
    train = [r for r in recs if "loss" in r]
    evals = [r for r in recs if "eval_loss" in r]
    assert [r["step"] for r in train] == list(range(1, result.steps + 1))
    assert set(train[0]) == {"step", "epoch", "loss", "lr", "tokens", "elapsed", "tok_s"}
    assert [r["step"] for r in evals] == [5, 10]
    assert train[0]["lr"] < train[2]["lr"]  # warm-up
    assert all(a["tokens"] < b["tokens"] for a, b in zip(train, train[1:]))
    assert result.metrics["eval_loss"] == evals[-1]["eval_loss"]


def test_adapter_loads_with_peft_and_reproduces_eval_loss(lora_run):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan, result = lora_run
    d = result.run_dir
    base = AutoModelForCausalLM.from_pretrained(d / "base")
    tok = AutoTokenizer.from_pretrained(d / "model")
    examples = eval_examples(plan, tok)
    collator = Collator("chat", tok.pad_token_id, False, "sdpa", torch.float32)
    before = evaluate_loss(base, examples, task="chat", collator=collator)["eval_loss"]
    with quiet_libraries():  # peft's own deprecation chatter
        tuned = PeftModel.from_pretrained(base, d / "model")
    after = evaluate_loss(tuned, examples, task="chat", collator=collator)["eval_loss"]
    assert after == pytest.approx(result.metrics["eval_loss"], rel=1e-6)
    assert after != before


def test_full_fine_tune_saves_a_loadable_model(tmp_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan = chat_plan(
        tmp_path,
        method=FullMethod(),
        split={"train": 0.8, "eval": 0.2},
        eval_on="eval",
        train={"pack": True, "max_len": 128},
    )
    result = run_plan(plan, tmp_path / "run", quiet=True)
    model = AutoModelForCausalLM.from_pretrained(result.run_dir / "model")
    tok = AutoTokenizer.from_pretrained(result.run_dir / "model")
    collator = Collator("chat", tok.pad_token_id, False, "sdpa", torch.float32)
    again = evaluate_loss(model, eval_examples(plan, tok), task="chat", collator=collator)
    assert again["eval_loss"] == pytest.approx(result.metrics["eval_loss"], rel=1e-6)
    assert result.metrics["packed"] and result.metrics["sequences"] < result.metrics["train_examples"]


def test_two_runs_are_identical_but_for_the_clock(tmp_path: Path):
    plan = chat_plan(tmp_path, train={"pack": True, "epochs": 1}, split={"train": 0.75, "eval": 0.25}, eval_on="eval")
    a = run_plan(plan, tmp_path / "a", quiet=True)
    b = run_plan(plan, tmp_path / "b", quiet=True)
    assert without_clock(records(a.run_dir)) == without_clock(records(b.run_dir))
    assert a.final_loss == b.final_loss
    wa = (a.run_dir / "model" / "adapter_model.safetensors").read_bytes()
    assert wa == (b.run_dir / "model" / "adapter_model.safetensors").read_bytes()


def test_classification_beats_the_untrained_head(tmp_path: Path):
    result = run_plan(classify_plan(tmp_path, tickets(160)), tmp_path / "run", quiet=True)
    m = result.metrics
    assert m["labels"] == ["account", "billing", "shipping", "technical"]
    assert m["eval_accuracy"] >= m["base_eval_accuracy"] + 0.3
    assert m["eval_loss"] < m["base_eval_loss"]
    cfg = json.loads((result.run_dir / "model" / "adapter_config.json").read_text())
    assert cfg["task_type"] == "SEQ_CLS" and "classifier" in cfg["modules_to_save"]


def test_bad_row_stops_before_anything_is_written(tmp_path: Path):
    rows = arithmetic(10)
    rows[4] = {"q": "no answer here"}
    with pytest.raises(RunError) as e:
        run_plan(chat_plan(tmp_path, rows), tmp_path / "run", quiet=True)
    assert e.value.location == "qa.rows[4]" and "`a`" in e.value.message
    assert not (tmp_path / "run").exists()
    skipping = chat_plan(tmp_path, rows, data_kw={"bad_rows": "skip"}, train={"max_steps": 1})
    result = run_plan(skipping, tmp_path / "run2", quiet=True)
    assert result.metrics["bad_rows_skipped"] == 1 and result.metrics["train_examples"] == 9


def test_run_refuses_dpo_an_occupied_dir_and_a_changed_plan(tmp_path: Path, lora_run):
    from ftlang.plan.models import DpoMethod

    with pytest.raises(RunError, match="method dpo cannot learn from a chat prompt"):
        run_plan(chat_plan(tmp_path, method=DpoMethod()), tmp_path / "x", quiet=True)
    plan, result = lora_run
    with pytest.raises(RunError, match="already holds a run"):
        run_plan(plan, result.run_dir, quiet=True)
    changed = chat_plan(Path(plan.root), split={"train": 0.8, "eval": 0.2}, eval_on="eval", method=LoraMethod(rank=2))
    with pytest.raises(RunError, match="plan differs"):
        run_plan(changed, resume=result.run_dir, quiet=True)


def test_default_run_dir_name(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = chat_plan(tmp_path, train={"max_steps": 1})
    result = run_plan(plan, quiet=True)
    name = result.run_dir.name
    assert result.run_dir.parent == tmp_path / "runs"
    assert name.startswith("tiny_chat-") and name.endswith(plan_hash(plan)[:8])
    assert len(name.split("-")[1]) == 8 and len(name.split("-")[2]) == 6  # YYYYmmdd-HHMMSS


def test_quiet_prints_one_line(tmp_path: Path, capsys):
    run_plan(chat_plan(tmp_path, train={"max_steps": 2}), tmp_path / "run", quiet=True)
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and "2 steps" in out and str(tmp_path / "run") in out
    assert err == ""


def test_completion_and_scratch_classification_runs(tmp_path: Path):
    from ftlang.plan.models import PromptPlan, ScratchModel

    base = chat_plan(
        tmp_path, split={"train": 0.75, "eval": 0.25}, eval_on="eval", train={"pack": True, "max_len": 96, "epochs": 1}
    )
    completion = base.model_copy(
        update={
            "prompt": PromptPlan(
                name="p", task="completion", input="Q: {{ q }}\nA:", target=" {{ a }}", fields=["a", "q"]
            )
        }
    )
    done = run_plan(completion, tmp_path / "completion", quiet=True)
    assert done.metrics["packed"] and done.metrics["eval_tokens"] > 0

    rows = tickets(40)
    cls = classify_plan(tmp_path, rows, method=FullMethod(), train={"epochs": 1, "max_len": 32})
    cls = cls.model_copy(
        update={"model": cls.model.model_copy(update={"source": ScratchModel(hidden=32, layers=1, heads=4, vocab=200)})}
    )
    result = run_plan(cls, tmp_path / "cls", quiet=True)
    assert 0.0 <= result.metrics["eval_accuracy"] <= 1.0 and result.metrics["labels"][0] == "account"
    from transformers import AutoModelForSequenceClassification

    loaded = AutoModelForSequenceClassification.from_pretrained(result.run_dir / "model")
    assert loaded.config.id2label[3] == "technical"


def test_unreachable_hub_fails_cleanly(tmp_path: Path):
    from ftlang.plan.models import HfModel, ModelPlan

    plan = chat_plan(tmp_path).model_copy(
        update={"model": ModelPlan(name="m", source=HfModel(id="ftlang-tests/missing", revision="v1"))}
    )
    with pytest.raises(RunError, match="local Hugging Face cache"):
        run_plan(plan, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()  # no half-made run directory left behind
