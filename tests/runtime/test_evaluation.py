"""The eval block in real runs: generation prompts, early stopping, keep_best, guards, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ftlang.plan.models import DataRef, EvalPlan, Gate, Generation, Guard, InlineData, Metric, PromptPlan
from ftlang.runtime import RunError, evaluate_loss, run_plan
from ftlang.runtime.data.batching import Collator
from ftlang.runtime.data.prompts import IGNORE, Rendered, Renderer, generation_prompt, plain_text, tokenize
from ftlang.runtime.data.sources import load_data
from ftlang.runtime.evaluation.evaluate import evaluate
from ftlang.runtime.models import train_scratch_tokenizer
from ftlang.runtime.quiet import quiet_libraries

from .factories import TEAMS, chat_plan, classify_plan, tickets
from .test_run import eval_examples, records, without_clock

GENERATED = [
    Metric(name="loss"),
    Metric(name="exact_match"),
    Metric(name="rouge_l"),
    Metric(name="contains", arg="1"),
    Metric(name="length"),
]


def with_eval(plan, **kw):
    return plan.model_copy(
        update={"eval": EvalPlan(on=DataRef(data=plan.eval.on.data if plan.eval else "qa", split="eval"), **kw)}
    )


def test_generation_prompt_is_the_training_text_up_to_the_answer():
    chat = Rendered("r0", messages=(("system", "You add."), ("user", "add 2 and 3"), ("assistant", "5")))
    completion = Rendered("r1", input="Q: add 2 and 3\nA:", target=" 5")
    tok = train_scratch_tokenizer([plain_text(chat), plain_text(completion)] * 4, 300)
    for r, task in ((chat, "chat"), (completion, "completion")):
        example = tokenize([r], tok, task, 64)[0][0]
        first_target = next(i for i, label in enumerate(example.labels) if label != IGNORE)
        assert generation_prompt(r, tok) == example.input_ids[:first_target]


def test_early_stopping_keeps_the_best_weights(tmp_path: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan = chat_plan(
        tmp_path,
        split={"train": 0.8, "eval": 0.2},
        eval_on="eval",
        train={"epochs": 6, "eval_every": 2, "patience": 2, "keep_best": "exact_match"},
    )
    plan = with_eval(
        plan, metrics=[Metric(name="loss"), Metric(name="exact_match")], generation=Generation(max_new_tokens=3)
    )
    result = run_plan(plan, tmp_path / "run", quiet=True)
    # a tiny model never answers exactly: the first evaluation stays best, two more end the run
    evals = {r["step"]: r for r in records(result.run_dir) if "eval_loss" in r}
    assert sorted(evals) == [2, 4, 6] and result.steps == 6 < result.metrics["total_steps"]
    assert result.metrics["stopped_early"] and result.metrics["best_step"] == 2
    assert result.metrics["eval_loss"] == evals[2]["eval_loss"] != evals[6]["eval_loss"]

    base = AutoModelForCausalLM.from_pretrained(result.run_dir / "base")
    tok = AutoTokenizer.from_pretrained(result.run_dir / "model")
    with quiet_libraries():
        written = PeftModel.from_pretrained(base, result.run_dir / "model")
    collator = Collator("chat", tok.pad_token_id, False, "sdpa", torch.float32)
    again = evaluate_loss(written, eval_examples(plan, tok), task="chat", collator=collator)
    assert again["eval_loss"] == pytest.approx(evals[2]["eval_loss"], rel=1e-6)
    # the entry point other methods call gives the same numbers as the run
    rows = load_data(plan.data[0], tmp_path, plan.prompt.fields).rows("eval")
    scored = evaluate(plan, written, tok, [Renderer(plan.prompt).render(r) for r in rows], samples=1)
    assert scored.metrics["loss"] == pytest.approx(evals[2]["eval_loss"], rel=1e-6)
    assert scored.metrics["exact_match"] == evals[2]["eval_exact_match"] and len(scored.samples) == 1
    report = (result.run_dir / "report.md").read_text()
    assert "the weights of step 2 (keep_best), not of the last step (6)" in report and "early stop" in report


def test_evaluation_draws_nothing_from_training_and_repeats_exactly(tmp_path: Path):
    sampled = Generation(max_new_tokens=4, sample=True, temperature=0.9, seed=3)
    plan = chat_plan(tmp_path, split={"train": 0.75, "eval": 0.25}, eval_on="eval", train={"epochs": 1})
    quiet = with_eval(plan, metrics=[Metric(name="loss")])
    busy = with_eval(
        plan.model_copy(update={"train": plan.train.model_copy(update={"eval_every": 1})}),
        metrics=GENERATED,
        generation=sampled,
        compare_base=True,
    )
    a, b, c = (run_plan(p, tmp_path / name, quiet=True) for p, name in ((busy, "a"), (busy, "b"), (quiet, "c")))

    def training(run):
        return [(r["step"], r["loss"]) for r in records(run.run_dir) if "loss" in r]

    assert training(a) == training(c)  # evaluating (and sampling) every step changed no step
    assert without_clock(records(a.run_dir)) == without_clock(records(b.run_dir))
    ea, eb = (json.loads((r.run_dir / "evaluation.json").read_text()) for r in (a, b))
    assert ea == eb and len(ea["samples"]) == 3 and ea["samples"][0]["base"] is not None
    assert set(ea["tuned"]) >= {"loss", "exact_match", "rouge_l", 'contains("1")', "length"}


def test_a_guard_fails_when_training_hurts_general_skills(tmp_path: Path):
    # Trained on shifted teams (billing tickets labelled technical, …), the model forgets what
    # the guard's correctly labelled tickets need: its loss there rises far beyond 10 %.
    shift = dict(zip(TEAMS, TEAMS[1:] + TEAMS[:1]))
    wrong = [{**row, "team": shift[row["team"]]} for row in tickets(96)]
    general = tickets(24, seed=1)
    plan = classify_plan(tmp_path, wrong, train={"epochs": 3, "lr": 1e-2, "max_len": 32})
    plan = plan.model_copy(
        update={
            "eval": plan.eval.model_copy(
                update={
                    "metrics": [Metric(name="accuracy"), Metric(name="loss")],
                    "guards": [Guard(name="general", source=InlineData(rows=general), max_drop=0.1)],
                    "require": [Gate(metric="accuracy", op=">=", value=0.5)],
                }
            )
        }
    )
    result = run_plan(plan, tmp_path / "run", quiet=True)
    (gate,) = result.outcome.verdict.gates
    (guard,) = result.outcome.verdict.guards
    assert gate.passed  # it learned its (wrong) training labels...
    assert not guard.passed and guard.metric == "loss" and guard.drop > 0.1 and guard.tuned > guard.base
    assert not result.outcome.passed and result.metrics["passed"] is False
    report = (result.run_dir / "report.md").read_text()
    assert "**Result: FAIL**" in report and f"| general | loss | {guard.base:.4f} | {guard.tuned:.4f} |" in report
    lock = json.loads((result.run_dir / "lock.json").read_text())
    assert [d["name"] for d in lock["data"]] == ["tickets", "general"]


def test_secrets_never_reach_the_reports(tmp_path: Path):
    token = "hf_" + "Zq8" * 10
    rows = [{"q": f"add {i} and 1, key {token}", "a": str(i + 1)} for i in range(24)]
    plan = chat_plan(
        tmp_path, rows, split={"train": 0.5, "eval": 0.5}, eval_on="eval", train={"max_steps": 1, "max_len": 160}
    )
    plan = with_eval(plan, generation=Generation(max_new_tokens=2)).model_copy(
        update={"params": {"hub_token": "plain-words-secret", "lr": 0.003}}
    )
    result = run_plan(plan, tmp_path / "run", quiet=True)
    for name in ("report.md", "report.html"):
        text = (result.run_dir / name).read_text()
        assert token not in text and "plain-words-secret" not in text
        assert "key ***" in text and "hub_token = ***" in text


def test_eval_mistakes_stop_the_run_before_a_model_loads(tmp_path: Path):
    plan = chat_plan(tmp_path, split={"train": 0.8, "eval": 0.2}, eval_on="eval")
    with pytest.raises(RunError, match="add `compare base`"):
        run_plan(
            with_eval(plan, require=[Gate(metric="loss", delta=True, op="<", value=0)]), tmp_path / "a", quiet=True
        )
    with pytest.raises(RunError, match="has no rows after filters and splits"):
        run_plan(chat_plan(tmp_path, split={"train": 1.0, "eval": 0.0}, eval_on="eval"), tmp_path / "b", quiet=True)
    dpo_like = with_eval(plan, metrics=[Metric(name="accuracy")])
    with pytest.raises(RunError, match="cannot be measured on a chat prompt"):
        run_plan(dpo_like, tmp_path / "c", quiet=True)
    assert not any((tmp_path / d).exists() for d in "abc")
    completion = plan.model_copy(
        update={"prompt": PromptPlan(name="p", task="completion", input="{{ q }}", target="{{ a }}", fields=["a", "q"])}
    )
    with pytest.raises(RunError, match="not a valid regular expression"):
        run_plan(with_eval(completion, metrics=[Metric(name="regex", arg="(")]), tmp_path / "d", quiet=True)
