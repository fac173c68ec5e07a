"""GRPO: rewards and plugins, advantages, seeded sampling, the reference, and a run that learns."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from ftlang.plan.models import FullMethod, GrpoMethod, LoraMethod, Reward, ScratchModel
from ftlang.runtime import RunError, run_plan
from ftlang.runtime.data.batching import collate_lm, singles
from ftlang.runtime.data.prompts import Example
from ftlang.runtime.methods.adapters import apply_method
from ftlang.runtime.methods.grpo import group_advantages
from ftlang.runtime.methods.policy import Reference, token_logps
from ftlang.runtime.methods.rewards import Rewards
from ftlang.runtime.models import build_scratch_model, train_scratch_tokenizer
from ftlang.runtime.sampling import SamplingSeeds, sample

from .factories import generation_plan
from .test_resume import assert_resumes_like, records

ROW = {"answer": "4711", "note": "x"}


def scores(*specs: Reward, completion: str) -> list[float]:
    return Rewards(list(specs)).score("prompt", completion, ROW, "t.jsonl:1")


def test_builtin_rewards():
    assert scores(Reward(kind="exact", field="answer"), completion=" 4711\n") == [1.0]
    assert scores(Reward(kind="exact", field="answer"), completion="4711.") == [0.0]
    assert scores(Reward(kind="fuzzy", field="answer"), completion="4701") == [0.75]  # 2·3/8
    assert scores(Reward(kind="contains", field="answer"), completion="it is #4711!") == [1.0]
    assert scores(Reward(kind="regex", pattern=r"^\d{4}$"), completion=" 4711 ") == [1.0]
    assert scores(Reward(kind="json_valid"), completion='{"a": 1}') == [1.0]
    assert scores(Reward(kind="json_valid"), completion="{a: 1}") == [0.0]
    assert scores(Reward(kind="length", max=4), completion="4711") == [0.0]
    assert scores(Reward(kind="length", max=4), completion="471147") == [-0.5]
    both = Rewards([Reward(kind="regex", pattern=r"\d", weight=0.5), Reward(kind="regex", pattern="x", weight=2)])
    assert both.names == ["regex", "regex_2"]
    assert both.total(both.score("p", "4", ROW, "t.jsonl:1")) == 0.5


def test_a_bad_pattern_is_a_run_error():
    with pytest.raises(RunError, match="not a valid regular expression"):
        Rewards([Reward(kind="regex", pattern="(")])


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch):
    """A real installed distribution on sys.path that registers rewards, as a team's package would."""
    (tmp_path / "acme_rewards.py").write_text(
        textwrap.dedent("""
        def polite(prompt, completion, row):
            return 1.0 if "please" in completion.lower() else 0.0

        def broken(prompt, completion, row):
            return row["missing"]

        def wordy(prompt, completion, row):
            return "very"
    """)
    )
    info = tmp_path / "acme_rewards-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rewards\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[ftlang.rewards]\npolite = acme_rewards:polite\nbroken = acme_rewards:broken\n"
        "wordy = acme_rewards:wordy\nghost = acme_rewards:nowhere\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_plugin_rewards_come_from_entry_points(plugin_package):
    polite = Rewards([Reward(kind="plugin", name="polite", weight=2.0)])
    assert polite.names == ["polite"]
    assert polite.score("p", "Yes, please.", ROW, "t.jsonl:1") == [1.0]
    with pytest.raises(RunError, match="failed: KeyError") as e:
        Rewards([Reward(kind="plugin", name="broken")]).score("p", "c", ROW, "t.jsonl:3")
    assert e.value.location == "t.jsonl:3"
    with pytest.raises(RunError, match="returned 'very', not a finite number"):
        Rewards([Reward(kind="plugin", name="wordy")]).score("p", "c", ROW, "t.jsonl:1")
    with pytest.raises(RunError, match="`ghost` .* failed to load"):
        Rewards([Reward(kind="plugin", name="ghost")])
    with pytest.raises(RunError, match="no installed package registers the reward `rude`"):
        Rewards([Reward(kind="plugin", name="rude")])


def test_group_advantages_normalise_within_each_group():
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]]))
    std = torch.tensor([1.0, 0.0, 0.0, 1.0]).std().item()
    assert torch.allclose(adv[0], torch.tensor([0.5, -0.5, -0.5, 0.5]) / (std + 1e-4))
    assert torch.equal(adv[1], torch.zeros(4))  # one score for all: nothing to prefer


@pytest.fixture(scope="module")
def tiny():
    tok = train_scratch_tokenizer([f"ticket {i}: what is its number? {i}" for i in range(40)], 300)
    model = build_scratch_model(ScratchModel(hidden=32, layers=2, heads=4), tok, "generation", seed=0)
    return tok, model.eval()


def test_sampling_is_seeded_and_stops_at_eos(tiny):
    tok, model = tiny
    prompts = [tok("ticket 7: what")["input_ids"], tok("ticket 12: what is its")["input_ids"]] * 4

    def draw(seed=None):
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return sample(
            model,
            prompts,
            max_new_tokens=12,
            eos_id=tok.eos_token_id,
            pad_id=tok.pad_token_id,
            device=torch.device("cpu"),
            temperature=None if seed is None else 1.0,
            generator=gen,
        )

    assert draw(1) == draw(1) != draw(2)
    greedy = draw()
    assert greedy[0] == greedy[2]  # the same prompt, greedily, whatever its batch neighbours
    assert all(
        len(c) <= 12 and (tok.eos_token_id not in c or c.index(tok.eos_token_id) == len(c) - 1)
        for c in draw(1) + greedy
    )
    # Left padding changes nothing: a prompt alone continues as it did in the batch.
    assert (
        sample(
            model,
            prompts[1:2],
            max_new_tokens=12,
            eos_id=tok.eos_token_id,
            pad_id=tok.pad_token_id,
            device=torch.device("cpu"),
        )
        == greedy[1:2]
    )


def test_a_completion_draws_alike_whoever_samples_it(tiny):
    """Per-row generators from SamplingSeeds: a prompt's completions are the same sampled in one batch
    or split across two (two processes, other micro-batches), and with or without lockstep."""
    tok, model = tiny
    texts = ["ticket 7: what", "ticket 12: what is its", "ticket 3:", "ticket 30: what is"]
    prompts = [(i, tok(t)["input_ids"]) for i, t in enumerate(texts)]
    seeds, cpu = SamplingSeeds(1234), torch.device("cpu")

    def draw(part, shared=None, lockstep=False, eos_id=tok.eos_token_id):
        generators = shared or [seeds.generator(i, 0, cpu) for i, _ in part]
        out = sample(
            model,
            [ids for _, ids in part],
            max_new_tokens=12,
            eos_id=eos_id,
            pad_id=tok.pad_token_id,
            device=cpu,
            temperature=1.0,
            generator=generators,
            lockstep=lockstep,
        )
        return dict(zip([i for i, _ in part], out))  # fmt: skip

    def shared() -> torch.Generator:  # one generator for the whole batch, as evaluation samples
        return torch.Generator().manual_seed(1234)

    whole = draw(prompts)
    assert {**draw(prompts[1::2]), **draw(prompts[0::2])} == whole
    # One generator shared by the batch would draw differently once the batch is split.
    assert {**draw(prompts[1::2], shared()), **draw(prompts[0::2], shared())} != draw(prompts, shared())
    # A tiny random model seldom ends: take the third token it draws as its end, to see it stop.
    stop = whole[0][2]
    ended = {0: whole[0][: whole[0].index(stop) + 1]}
    forwards: list[int] = []
    hook = model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        assert draw(prompts[:1], eos_id=stop) == ended and len(forwards) <= 3
        forwards.clear()
        assert draw(prompts[:1], eos_id=stop, lockstep=True) == ended and len(forwards) == 12  # none skipped
    finally:
        hook.remove()
    seeds.step = 1
    assert draw(prompts) != whole  # the next step draws afresh


def test_the_reference_stays_the_base_while_the_policy_trains(tiny):
    tok, base = tiny
    ids = tok("ticket 3: what is its number? 3")["input_ids"]
    batch = collate_lm(singles([Example(ids, ids, "r")]), tok.pad_token_id, packed=False)
    before = token_logps(base, batch)
    for method in (LoraMethod(rank=4, alpha=8, also_train=["lm_head"]), FullMethod()):
        fresh = build_scratch_model(ScratchModel(hidden=32, layers=2, heads=4), tok, "generation", seed=0)
        model, _ = apply_method(fresh, method, "generation")
        # With an adapter: the base under it, switched off; full: a frozen copy.
        reference = Reference(model, has_adapter=isinstance(method, LoraMethod))
        with torch.no_grad():  # what training does: move every trainable weight
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.5)
        assert not torch.allclose(token_logps(model, batch), before)
        assert torch.allclose(reference.token_logps(batch), before, atol=1e-6)


# "Answer with a digit": a tiny random model starts at ~5 % and learns it in 30 steps.
DIGIT_FIRST = [Reward(kind="regex", pattern=r"^\d"), Reward(kind="length", max=3, weight=0.2)]


@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    plan = generation_plan(
        root,
        method=GrpoMethod(rewards=DIGIT_FIRST, group_size=8, max_new_tokens=3),
        train={"max_steps": 30, "lr": 1e-2, "batch": 8, "micro_batch": 4, "checkpoint_every": 5, "eval_every": 15},
        eval_on="eval",
    )
    return plan, run_plan(plan, root / "run", quiet=True)


def test_grpo_raises_the_mean_reward(grpo_run):
    plan, result = grpo_run
    recs = records(result.run_dir)
    train = [r for r in recs if "loss" in r]
    assert {"reward", "reward_regex", "reward_length", "kl", "completion_tokens"} <= set(train[0])
    first = sum(r["reward"] for r in train[:5]) / 5
    last = sum(r["reward"] for r in train[-5:]) / 5
    assert last > first + 0.3, (first, last)
    assert train[-1]["kl"] > 0  # the policy moved away from the reference
    evals = [r for r in recs if "eval_reward" in r]
    assert [r["step"] for r in evals] == [15, 30] and evals[-1]["eval_reward_regex"] > 0.5
    assert result.metrics["method"]["kind"] == "grpo/full"


def test_kill_and_resume_match_the_uninterrupted_run(grpo_run, tmp_path: Path):
    # The sampling generator must come back exactly, or the completions after the resume differ.
    assert_resumes_like(*grpo_run, tmp_path / "killed")


def test_grpo_mistakes_are_run_errors(tmp_path: Path):
    method = GrpoMethod(rewards=[Reward(kind="exact", field="answer")], max_new_tokens=64)
    with pytest.raises(RunError, match="leaves no room for a prompt"):
        run_plan(generation_plan(tmp_path, method=method), tmp_path / "x", quiet=True)
    with pytest.raises(RunError, match="method full cannot learn from a generation prompt"):
        run_plan(generation_plan(tmp_path, method=FullMethod()), tmp_path / "y", quiet=True)
    missing = GrpoMethod(rewards=[Reward(kind="exact", field="nope")])
    with pytest.raises(RunError, match="nope") as e:
        run_plan(generation_plan(tmp_path, method=missing), tmp_path / "z", quiet=True)
    assert e.value.location == "asks.rows[0]"


def test_rewards_read_the_row_of_a_completion_prompt(tmp_path: Path) -> None:
    """GRPO takes a completion prompt too (its target is what eval compares with): the rewards
    still see the whole data row, through the data engine's cached rendering."""
    plan = generation_plan(
        tmp_path,
        method=GrpoMethod(rewards=[Reward(kind="exact", field="answer")], group_size=2, max_new_tokens=2),
        train={"max_steps": 2, "batch": 2},
    )
    completion = plan.prompt.model_copy(update={"task": "completion", "target": " {{ answer }}"})
    result = run_plan(plan.model_copy(update={"prompt": completion}), tmp_path / "run", quiet=True)
    assert "reward" in records(result.run_dir)[0]
