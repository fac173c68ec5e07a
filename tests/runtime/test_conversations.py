"""Conversations: lists of turns from the data, laid out by each chat template, with loss
masks checked by decoding the trained tokens."""

from __future__ import annotations

import json

import pytest

from ftlang.plan.models import (
    ChatTemplate,
    Conversation,
    DataPlan,
    DataRef,
    EvalPlan,
    FullMethod,
    InlineData,
    Metric,
    ModelPlan,
    Plan,
    PromptPlan,
    ScratchModel,
    SplitPlan,
    TrainPlan,
    Turn,
)
from ftlang.runtime import run_plan
from ftlang.runtime.data.chat_templates import BUILT_IN, chat_layout
from ftlang.runtime.data.prompts import IGNORE, Renderer, answer_text, generation_prompt, plain_text, tokenize
from ftlang.runtime.data.sources import Row
from ftlang.runtime.errors import RunError
from ftlang.runtime.models import train_scratch_tokenizer

TURNS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Spain?"},
    {"role": "assistant", "content": "Madrid."},
]
ROW = Row({"messages": TURNS}, "chats.jsonl:1")
SHAREGPT = Row(
    {
        "conversations": [
            {"from": {"user": "human", "assistant": "gpt"}.get(t["role"], t["role"]), "value": t["content"]}
            for t in TURNS
        ]
    },
    "chats.jsonl:2",
)


def prompt(
    template: str = "tokenizer", train_on: str = "assistant", jinja: str | None = None, field: str = "messages", **kw
) -> PromptPlan:
    return PromptPlan(
        name="agent",
        task="chat",
        messages=Conversation(field=field, **kw),
        template=ChatTemplate(name=template, jinja=jinja),
        train_on=train_on,
    )


@pytest.fixture(scope="module")
def tok():
    texts = [plain_text(Renderer(prompt(name)).render(ROW)) for name in BUILT_IN] * 5
    return train_scratch_tokenizer(texts, 400)


def trained(tok, plan: PromptPlan, row: Row = ROW) -> list[str]:
    """The decoded runs of consecutive loss tokens: one per trained turn."""
    (ex,), _ = tokenize([Renderer(plan).render(row)], tok, "chat", 512)
    runs, cur = [], []
    for t, lab in zip(ex.input_ids, ex.labels):
        if lab != IGNORE:
            assert lab == t
            cur.append(t)
        elif cur:
            runs, cur = runs + [cur], []
    return [tok.decode(r) for r in runs + ([cur] if cur else [])]


ASSISTANT = {
    "chatml": ["Paris.<|im_end|>", "Madrid.<|im_end|>"],
    "llama3": ["Paris.<|eot_id|>", "Madrid.<|eot_id|>"],
    "mistral": ["Paris.</s>", "Madrid.</s>"],
    "gemma": ["Paris.<end_of_turn>", "Madrid.<end_of_turn>"],
    "alpaca": ["Paris.</s>", "Madrid.</s>"],
    "plain": ["Paris.</s>", "Madrid.</s>"],
}


@pytest.mark.parametrize("name", sorted(ASSISTANT))
def test_every_assistant_turn_trains_with_its_end_of_turn(tok, name):
    assert trained(tok, prompt(name)) == ASSISTANT[name]


@pytest.mark.parametrize("name", sorted(ASSISTANT))
def test_train_on_last_trains_the_last_assistant_turn_only(tok, name):
    assert trained(tok, prompt(name, "last")) == ASSISTANT[name][-1:]


ALL = {
    "chatml": ["Be brief.<|im_end|>", "Capital of France?<|im_end|>", "Paris.<|im_end|>"],
    "llama3": ["Be brief.<|eot_id|>", "Capital of France?<|eot_id|>", "Paris.<|eot_id|>"],
    "mistral": ["Be brief.", "Capital of France? [/INST]", "Paris.</s>"],
    "gemma": ["Be brief.", "Capital of France?<end_of_turn>", "Paris.<end_of_turn>"],
    "alpaca": ["Be brief.", "Capital of France?", "Paris.</s>"],
    "plain": ["Be brief.", "Capital of France?", "Paris.</s>"],
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_train_on_all_trains_every_turn(tok, name):
    # Adjacent turns with nothing untrained between them decode as one run; compare the text.
    got = "".join(trained(tok, prompt(name, "all")))
    for piece in ALL[name]:
        assert piece in got
    assert "Madrid." in got


def test_layouts_are_what_the_model_families_write(tok):
    two = [("user", "Hi"), ("assistant", "Hello")]
    text = {name: chat_layout((name, None), tok).render(two) for name in BUILT_IN}
    assert text["chatml"] == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
    assert text["llama3"] == (
        "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
    )
    assert text["mistral"] == "<s>[INST] Hi [/INST]Hello</s>"
    assert text["gemma"] == "<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
    assert text["alpaca"] == "### Instruction:\nHi\n\n### Response:\nHello</s>\n\n"
    assert text["plain"] == "<|user|>\nHi\n<|assistant|>\nHello</s>"


def test_sharegpt_turns_map_their_roles(tok):
    roles = {"system": "system", "human": "user", "gpt": "assistant"}
    plan = prompt("chatml", field="conversations", role_key="from", content_key="value", roles=roles)
    r = Renderer(plan).render(SHAREGPT)
    assert r.messages == tuple((t["role"], t["content"]) for t in TURNS)
    assert trained(tok, plan, SHAREGPT) == ASSISTANT["chatml"]


def test_a_custom_jinja_template(tok):
    custom = "{% for m in messages %}{{ m.role|upper }}: {{ m.content }}{% if m.role == 'assistant' %}<END>{% endif %}\n{% endfor %}"
    assert trained(tok, prompt("custom", jinja=custom)) == ["Paris.<END>", "Madrid.<END>"]


def test_a_written_system_turn_opens_the_conversation(tok):
    plan = prompt("chatml").model_copy(update={"turns": [Turn(role="system", template="You are {{ 'terse' }}.")]})
    rows = Row({"messages": TURNS[1:3]}, "x")
    assert Renderer(plan).render(rows).messages[0] == ("system", "You are terse.")


def test_generation_continues_after_the_assistant_header(tok):
    r = Renderer(prompt("chatml")).render(ROW)
    ids = generation_prompt(r, tok)
    assert tok.decode(ids).endswith("And of Spain?<|im_end|>\n<|im_start|>assistant\n")
    assert answer_text(r, tok, "Madrid.<|im_end|>\n<|im_start|>user") == "Madrid."


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"messages": "hi"}, "not a list of turns (a string)"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "no assistant turn"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "role 'tool'"),
        ({"messages": [{"role": "user", "text": "x"}]}, "no text under `content`"),
        ({"messages": ["hi"]}, "turn 1 of `messages` is not a record"),
    ],
)
def test_rows_that_are_not_conversations_fail_at_their_row(values, message):
    with pytest.raises(RunError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        Renderer(prompt()).render(Row(values, "chats.jsonl:9"))
    assert e.value.location == "chats.jsonl:9"


def test_a_conversation_plan_trains_and_evaluates_end_to_end(tmp_path):
    """A scratch llama on ShareGPT-style conversations in the Llama 3 layout: the run trains on
    every assistant turn and generates the last one for exact_match."""
    sums = [
        [
            {"from": "human", "value": f"Add {a} and {b}"},
            {"from": "gpt", "value": str(a + b)},
            {"from": "human", "value": "Again?"},
            {"from": "gpt", "value": str(a + b)},
        ]
        for a in range(6)
        for b in range(6)
    ]
    sharegpt = {"role_key": "from", "content_key": "value", "roles": {"human": "user", "gpt": "assistant"}}
    plan = Plan(
        recipe="talk",
        root=str(tmp_path),
        model=ModelPlan(name="m", source=ScratchModel(hidden=32, layers=1, heads=4, vocab=160)),
        data=[
            DataPlan(
                name="chats",
                source=InlineData(rows=[{"conversations": turns} for turns in sums]),
                split=SplitPlan(parts={"train": 0.8, "eval": 0.2}),
            )
        ],
        prompt=prompt("llama3", field="conversations", **sharegpt),
        method=FullMethod(),
        train=TrainPlan(data=DataRef(data="chats", split="train"), epochs=1, lr=3e-3, batch=8, max_len=64),
        eval=EvalPlan(
            on=DataRef(data="chats", split="eval"), metrics=[Metric(name="loss"), Metric(name="exact_match")]
        ),
    )
    result = run_plan(plan, tmp_path / "run", quiet=True)
    assert result.steps >= 3
    assert "exact_match" in json.dumps(result.metrics)


def test_train_on_applies_to_written_chat_turns(tok):
    written = PromptPlan(
        name="p",
        task="chat",
        turns=[
            Turn(role="user", template="Capital of France?"),
            Turn(role="assistant", template="Paris."),
            Turn(role="user", template="And of Spain?"),
            Turn(role="assistant", template="Madrid."),
        ],
        template=ChatTemplate(name="chatml"),
        train_on="last",
    )
    assert trained(tok, written, Row({}, "x")) == ["Madrid.<|im_end|>"]
