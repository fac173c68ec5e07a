"""Prompt stage: sandboxed templates, chat formats, and loss masks checked token by token."""

from __future__ import annotations

import pytest

from ftlang.plan.models import PromptPlan, Turn
from ftlang.runtime.data.prompts import IGNORE, Renderer, infer_labels, plain_text, tokenize
from ftlang.runtime.data.sources import Row
from ftlang.runtime.errors import RunError
from ftlang.runtime.models import train_scratch_tokenizer

from .factories import arithmetic

CHAT = PromptPlan(
    name="p",
    task="chat",
    fields=["q", "a"],
    turns=[
        Turn(role="system", template="You add numbers."),
        Turn(role="user", template="{{ q }}"),
        Turn(role="assistant", template="{{ a }}"),
    ],
)
TWO_TURNS = PromptPlan(
    name="p",
    task="chat",
    fields=["q", "a"],
    turns=[
        Turn(role="user", template="{{ q }}"),
        Turn(role="assistant", template="{{ a }}"),
        Turn(role="user", template="and again?"),
        Turn(role="assistant", template="still {{ a }}"),
    ],
)
COMPLETION = PromptPlan(name="p", task="completion", input="Q: {{ q }}\nA:", target=" {{ a }}", fields=["q", "a"])

ROW = Row({"q": "add 3 and 5", "a": "8"}, "t.jsonl:1")


@pytest.fixture(scope="module")
def tok():
    texts = [plain_text(Renderer(CHAT).render(Row(r, "x"))) for r in arithmetic(200)]
    return train_scratch_tokenizer(texts, 200)


def spans(ids, labels):
    """Runs of consecutive loss positions, as lists of token ids."""
    out, cur = [], []
    for t, lab in zip(ids, labels):
        if lab != IGNORE:
            assert lab == t  # a loss position predicts exactly its own token
            cur.append(t)
        elif cur:
            out.append(cur)
            cur = []
    return out + ([cur] if cur else [])


def test_plain_chat_loss_only_on_assistant_and_eos(tok):
    (ex,), stats = tokenize([Renderer(CHAT).render(ROW)], tok, "chat", 64)
    assert tok.decode(ex.input_ids) == "<s><|system|>\nYou add numbers.\n<|user|>\nadd 3 and 5\n<|assistant|>\n8</s>"
    first = next(i for i, lab in enumerate(ex.labels) if lab != IGNORE)
    # every token before the answer is prompt (masked), every token from it on is target
    assert all(lab == IGNORE for lab in ex.labels[:first])
    assert ex.labels[first:] == ex.input_ids[first:]
    assert tok.decode(ex.input_ids[:first]) == "<s><|system|>\nYou add numbers.\n<|user|>\nadd 3 and 5\n<|assistant|>\n"
    assert tok.decode(ex.input_ids[first:]) == "8</s>"
    assert ex.input_ids[-1] == tok.eos_token_id
    assert stats.target_tokens == len(ex.input_ids) - first


def test_multi_turn_chat_has_one_span_per_assistant_turn(tok):
    (ex,), _ = tokenize([Renderer(TWO_TURNS).render(ROW)], tok, "chat", 128)
    assert [tok.decode(s) for s in spans(ex.input_ids, ex.labels)] == ["8</s>", "still 8</s>"]


def test_chat_template_is_used_when_the_tokenizer_has_one(tok):
    templated = tok.__class__(
        tokenizer_object=tok.backend_tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    templated.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}"
        "{% if m['role'] == 'assistant' %}</s>{% endif %}{{ '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    (ex,), _ = tokenize([Renderer(TWO_TURNS).render(ROW)], templated, "chat", 128)
    assert (
        templated.decode(ex.input_ids)
        == "[user] add 3 and 5\n[assistant] 8</s>\n[user] and again?\n[assistant] still 8</s>\n"
    )
    # The span is what the template adds for the turn after its header: the answer and its
    # end token, not the newline between turns; no extra EOS since the turn ends with one.
    assert [templated.decode(s) for s in spans(ex.input_ids, ex.labels)] == ["8</s>", "still 8</s>"]


def test_completion_masks_the_input_and_appends_eos(tok):
    (ex,), _ = tokenize([Renderer(COMPLETION).render(ROW)], tok, "completion", 64)
    loss = spans(ex.input_ids, ex.labels)
    assert len(loss) == 1 and tok.decode(loss[0]) == " 8</s>"
    assert ex.input_ids[-1] == tok.eos_token_id and ex.input_ids[0] == tok.bos_token_id
    assert tok.decode(ex.input_ids) == "<s>Q: add 3 and 5\nA: 8</s>"


def test_truncation_is_counted_and_targetless_examples_dropped(tok):
    long = Row({"q": "add " + " and ".join(["1"] * 30), "a": "30"}, "t.jsonl:7")
    rendered = [Renderer(COMPLETION).render(r) for r in (ROW, long)]
    fits = len(tokenize(rendered[:1], tok, "completion", 1000)[0][0].input_ids)
    examples, stats = tokenize(rendered, tok, "completion", fits)
    assert stats.truncated == 1 and stats.dropped_no_target == 1 and stats.drops == ["t.jsonl:7"]
    assert [e.origin for e in examples] == ["t.jsonl:1"]
    examples, stats = tokenize(rendered, tok, "completion", 1000)
    assert stats.truncated == 0 and len(examples) == 2


def test_classification_labels():
    plan = PromptPlan(
        name="p", task="classification", input="{{ body }}", label=" {{ team }} ", fields=["body", "team"]
    )
    rows = [Row({"body": "b", "team": t}, f"r{i}") for i, t in enumerate(["z", "a", "m", "a"])]
    rendered = [Renderer(plan).render(r) for r in rows]
    assert infer_labels(rendered) == ["a", "m", "z"]
    tok = train_scratch_tokenizer(["b b b"], 80)
    examples, _ = tokenize(rendered, tok, "classification", 16, ["a", "m", "z"])
    assert [e.labels for e in examples] == [[2], [0], [1], [0]]
    with pytest.raises(RunError) as e:
        tokenize(rendered, tok, "classification", 16, ["a", "m"])
    assert e.value.location == "r0"


def test_templates_are_sandboxed_and_strict():
    evil = PromptPlan(
        name="p", task="completion", fields=["q"], target="x", input="{{ q.__class__.__mro__[1].__subclasses__() }}"
    )
    with pytest.raises(RunError) as e:
        Renderer(evil).render(ROW)
    assert e.value.location == "t.jsonl:1"
    strict = PromptPlan(name="p", task="completion", input="{{ q }} {{ nope }}", target="x")
    with pytest.raises(RunError, match="nope"):
        Renderer(strict).render(ROW)
    mutate = PromptPlan(name="p", task="completion", input="{{ [].append(1) }}", target="x")
    with pytest.raises(RunError):  # the immutable sandbox refuses mutating methods
        Renderer(mutate).render(ROW)


def test_render_all_skips_bad_rows_when_asked():
    plan = PromptPlan(name="p", task="completion", input="{{ q.upper() }}", target="{{ a }}")
    rows = [ROW, Row({"q": 3, "a": "x"}, "t.jsonl:2")]
    done, skipped = Renderer(plan).render_all(rows, skip_bad=True)
    assert [r.input for r in done] == ["ADD 3 AND 5"]
    assert skipped[0]["location"] == "t.jsonl:2"
    with pytest.raises(RunError):
        Renderer(plan).render_all(rows, skip_bad=False)


def test_preference_and_generation_rows_render():
    pair = PromptPlan(name="p", task="preference", input="{{ q }}", chosen="{{ a }}", rejected="no")
    r = Renderer(pair).render(ROW)
    assert (r.input, r.chosen, r.rejected) == ("add 3 and 5", "8", "no")
    assert plain_text(r) == "add 3 and 58\nadd 3 and 5no"  # the scratch tokenizer sees both answers
    chat = PromptPlan(
        name="p", task="preference", turns=[Turn(role="user", template="{{ q }}")], chosen="{{ a }}", rejected="no"
    )
    assert Renderer(chat).render(ROW).messages == (("user", "add 3 and 5"),)
    ask = Renderer(PromptPlan(name="p", task="generation", input="{{ q }}?")).render(ROW)
    assert ask.input == "add 3 and 5?" and ask.row == ROW.values  # the rewards read the row
