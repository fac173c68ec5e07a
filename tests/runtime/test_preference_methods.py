"""KTO, ORPO and SimPO end to end: unpaired rows, the KL pairing, and tiny runs that learn."""

from __future__ import annotations

import json
import os

import pytest
import torch

from ftlang.plan.models import (
    DataPlan,
    GrpoMethod,
    InlineData,
    KtoMethod,
    LoraMethod,
    OrpoMethod,
    PromptPlan,
    Reward,
    RewardMethod,
    SimpoMethod,
    Turn,
)
from ftlang.runtime import RunError, run_plan
from ftlang.runtime.data.prompts import IGNORE, Rendered, Renderer
from ftlang.runtime.data.sources import Row
from ftlang.runtime.methods.kto import tokenize_rated
from ftlang.runtime.models import train_scratch_tokenizer

from .factories import generation_plan, preference_plan
from .test_resume import records

UNPAIRED = PromptPlan(
    name="rated",
    task="unpaired",
    input="Ticket: {{ body }}\nTeam:",
    completion=" {{ team }}",
    desirable="{{ good }}",
    fields=["body", "good", "team"],
)


def test_desirable_renders_to_a_flag_or_stops_at_the_row():
    renderer = Renderer(UNPAIRED)
    for text, flag in [("True", True), ("false", False), (" 1 ", True), ("no", False)]:
        row = Row({"body": "refund", "team": "billing", "good": text}, "r.jsonl:1")
        assert renderer.render(row) == Rendered("r.jsonl:1", input="Ticket: refund\nTeam:", target=" billing",
                                                desirable=flag)  # fmt: skip
    with pytest.raises(RunError, match="not true or false") as e:
        renderer.render(Row({"body": "x", "team": "y", "good": "maybe"}, "r.jsonl:7"))
    assert e.value.location == "r.jsonl:7"


def test_each_completion_is_paired_with_the_next_rows_completion_for_the_kl_estimate():
    tok = train_scratch_tokenizer(["Ticket: a Team: billing shipping account"] * 20, 120)
    rows = [
        Rendered(f"r:{i}", input=f"Ticket: {body} Team:", target=f" {team}", desirable=i != 1)
        for i, (body, team) in enumerate([("a", "billing"), ("b", "shipping"), ("c", "account")])
    ]
    rated, stats = tokenize_rated(rows, tok, max_len=64)
    assert stats == {"truncated": 0, "dropped_no_target": 0}

    def answer(example):
        return tok.decode([t for t in example.labels if t != IGNORE])

    assert [(answer(r.example), answer(r.mismatched), r.desirable) for r in rated] == [
        (" billing</s>", " shipping</s>", True),
        (" shipping</s>", " account</s>", False),
        (" account</s>", " billing</s>", True),  # the last row takes the first's
    ]


def _kto_plan(root):
    base = preference_plan(root)
    rows = [
        {"body": r["body"], "team": r[answer], "good": answer == "good"}
        for r in base.data[0].source.rows
        for answer in ("good", "bad")
    ]
    data = DataPlan(name="prefs", source=InlineData(rows=rows), fields=sorted(rows[0]))
    method = KtoMethod(beta=0.5, adapter=LoraMethod(rank=8, alpha=16))
    return base.model_copy(update={"data": [data], "prompt": UNPAIRED, "method": method, "recipe": "tiny_kto"})


@pytest.mark.parametrize(
    "method",
    [
        OrpoMethod.model_validate({"lambda": 1.0, "adapter": {"rank": 8, "alpha": 16}}),
        SimpoMethod(adapter=LoraMethod(rank=8, alpha=16)),
    ],
    ids=["orpo", "simpo"],
)
def test_reference_free_methods_learn_the_preferences(tmp_path, method):
    result = run_plan(preference_plan(tmp_path, method=method), tmp_path / "run", quiet=True)
    s = result.metrics
    assert s["eval_preference_accuracy"] > s["base_eval_preference_accuracy"]
    assert s["eval_reward_margin"] > s["base_eval_reward_margin"]
    assert s["eval_loss"] < s["base_eval_loss"]


def test_kto_learns_which_completions_are_desirable(tmp_path):
    result = run_plan(_kto_plan(tmp_path), tmp_path / "run", quiet=True)
    s = result.metrics
    # Before the first step the policy is the reference: every reward and the KL estimate are 0.
    assert s["base_eval_reward_margin"] == 0.0 and s["base_eval_kl_estimate"] == 0.0
    assert s["eval_reward_margin"] > 0.3 and s["eval_loss"] < s["base_eval_loss"]
    train = [r for r in records(result.run_dir) if "loss" in r]
    assert train[-1]["signed_reward"] > train[0]["signed_reward"]


@pytest.fixture(scope="module")
def reward_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("reward")
    plan = preference_plan(root, method=RewardMethod(adapter=LoraMethod(rank=8, alpha=16)))
    return plan, run_plan(plan, root / "run", quiet=True)


def test_a_reward_model_learns_and_is_saved_as_a_plain_scalar_classifier(reward_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ftlang.runtime.methods.dpo import PairCollator, tokenize_pairs
    from ftlang.runtime.methods.reward_model import scores

    plan, result = reward_run
    s = result.metrics
    assert s["eval_preference_accuracy"] > s["base_eval_preference_accuracy"]
    assert s["eval_loss"] < s["base_eval_loss"]
    # model/ loads without peft, one label, and scores the pairs as the run measured them.
    folder = result.run_dir / "model"
    assert not (folder / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert model.config.num_labels == 1
    tok = AutoTokenizer.from_pretrained(folder)
    renderer = Renderer(plan.prompt)
    rows = [renderer.render(Row(r, f"prefs.rows[{i}]")) for i, r in enumerate(plan.data[0].source.rows)]
    pairs, _ = tokenize_pairs(rows, tok, plan.train.max_len)
    with torch.no_grad():
        chosen, rejected = scores(model, PairCollator(model.config.pad_token_id)(pairs)).chunk(2)
    assert (chosen > rejected).float().mean().item() == pytest.approx(s["eval_preference_accuracy"])


def test_grpo_rewards_completions_with_a_trained_reward_model(reward_run, tmp_path):
    from ftlang.runtime.methods.reward_scorer import RewardModelTerm

    _, trained = reward_run
    # The run directory, relative to the recipe's folder: its model/ is the reward model.
    term = Reward(kind="model", path=os.path.relpath(trained.run_dir, tmp_path))
    plan = generation_plan(tmp_path, method=GrpoMethod(rewards=[term], group_size=2, max_new_tokens=4),
                           train={"max_steps": 2, "batch": 2})  # fmt: skip
    result = run_plan(plan, tmp_path / "grpo", quiet=True)
    steps = [r for r in records(result.run_dir) if "reward_model" in r]
    assert len(steps) == 2 and all(r["reward"] == r["reward_model"] for r in steps)
    # The lock pins the reward model's weights; the term is the scalar head's score of prompt + completion.
    pin = json.loads((result.run_dir / "lock.json").read_text())["reward_models"][0]
    assert pin["path"] == term.path and set(pin["weights_sha256"]) == {"model.safetensors"}
    score = RewardModelTerm(tmp_path, term.path)("Ticket: refund\nTeam:", " billing", {})
    assert isinstance(score, float) and score != 0.0
    # Under a bf16 policy's autocast (GRPO's rollouts run in it) the reward model still scores in float32.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert RewardModelTerm(tmp_path, term.path)("Ticket: refund\nTeam:", " billing", {}) == score


def test_an_unpaired_chat_prompt_trains_the_completion_as_the_assistant_turn():
    prompt = UNPAIRED.model_copy(update={"input": None, "turns": [Turn(role="user", template="{{ body }}")]})
    rows = [
        Renderer(prompt).render(Row({"body": body, "team": team, "good": good}, f"r:{i}"))
        for i, (body, team, good) in enumerate([("refund", "billing", True), ("crash", "technical", False)])
    ]
    assert rows[0].messages == (("user", "refund"), ("assistant", " billing")) and rows[1].desirable is False
    tok = train_scratch_tokenizer(["refund crash billing technical"] * 20, 120)
    rated, _ = tokenize_rated(rows, tok, max_len=64)
    own = [t for t, label in zip(rated[0].example.input_ids, rated[0].example.labels) if label != IGNORE]
    twin = [t for t, label in zip(rated[0].mismatched.input_ids, rated[0].mismatched.labels) if label != IGNORE]
    # The twin asks row 0's question and answers with row 1's completion, as the assistant turn.
    assert tok.decode(own).strip().startswith("billing") and tok.decode(twin).strip().startswith("technical")
