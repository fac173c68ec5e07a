"""Prompts: render rows through sandboxed templates, then tokenise with loss masks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from ftlang.plan.catalogue import DESIRABLE_FLAGS
from ftlang.plan.models import PromptPlan
from ftlang.plan.sandbox import sandbox
from ftlang.runtime.data.chat_templates import DEFAULT_TEMPLATE, ChatLayout, TemplateRef, chat_layout
from ftlang.runtime.data.conversations import read_conversation, trained_turns
from ftlang.runtime.data.sources import Row
from ftlang.runtime.errors import RunError

IGNORE = -100  # label value the loss skips (torch's CrossEntropyLoss default ignore_index)

# The markers of the `plain` chat template (chat_templates.py), for tokenizers without a
# chat template of their own (scratch models, base models). Each turn opens with a role
# marker line; an assistant turn ends with EOS, which is in the loss so the model learns to stop:
#   <|system|>\n{system}\n<|user|>\n{user}\n<|assistant|>\n{assistant}</s>
ROLE_MARKERS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}


@dataclass(frozen=True)
class Rendered:
    """One row after templating: chat messages, or input + target, or input + label.

    A preference row has its prompt (input, or system/user messages) with chosen and
    rejected; a generation row only its input. `row` keeps the data row for GRPO's rewards.
    Chat messages carry the prompt's chat `template` and which of them `trained` (empty:
    the assistant turns).
    """

    origin: str
    messages: tuple[tuple[str, str], ...] = ()
    input: str = ""
    target: str = ""
    label: str = ""
    chosen: str = ""
    rejected: str = ""
    desirable: bool | None = None  # an unpaired row: its completion is the target, good or not
    row: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    trained: tuple[bool, ...] = ()
    # (name, custom jinja): plain values, so a Rendered survives a round trip through JSON
    template: TemplateRef = field(default=DEFAULT_TEMPLATE, compare=False, repr=False)

    @property
    def trained_turns(self) -> tuple[bool, ...]:
        return self.trained or tuple(role == "assistant" for role, _ in self.messages)


@dataclass(frozen=True)
class Example:
    """Token ids with HF-style labels: the token itself where the loss counts, else -100.

    For classification, `labels` is `[class index]`.
    """

    input_ids: list[int]
    labels: list[int]
    origin: str


@dataclass
class TokenStats:
    examples: int = 0
    tokens: int = 0
    target_tokens: int = 0
    truncated: int = 0
    dropped_no_target: int = 0  # truncation cut away every loss token
    drops: list[str] = field(default_factory=list)


_ENV = sandbox()  # bounded: output, numbers, loops and time per row (plan/sandbox.py)


class Renderer:
    """Compiles a PromptPlan's templates once and renders rows through them."""

    def __init__(self, prompt: PromptPlan):
        self.prompt = prompt
        parts: list[tuple[str, str | None]]
        if prompt.task == "chat":
            parts = [(t.role, t.template) for t in prompt.turns]
            # A conversation's turns come from the data; its written turns (a system turn) open it.
            if prompt.messages is None and (not parts or parts[-1][0] != "assistant"):
                raise RunError(
                    "a chat prompt must end with an assistant turn, which is what the model learns",
                    location=f"prompt `{prompt.name}`",
                )
        elif prompt.task == "completion":
            parts = [("input", prompt.input), ("target", prompt.target)]
        elif prompt.task == "preference":
            ask = [(t.role, t.template) for t in prompt.turns] or [("input", prompt.input)]
            parts = ask + [("chosen", prompt.chosen), ("rejected", prompt.rejected)]
        elif prompt.task == "generation":
            parts = [("input", prompt.input)]
        elif prompt.task == "unpaired":
            ask = [(t.role, t.template) for t in prompt.turns] or [("input", prompt.input)]
            parts = ask + [("completion", prompt.completion), ("desirable", prompt.desirable)]
        else:
            parts = [("input", prompt.input), ("label", prompt.label)]
        self.templates = []
        for role, text in parts:
            if text is None:
                raise RunError(f"a {prompt.task} prompt needs `{role}`", location=f"prompt `{prompt.name}`")
            try:
                self.templates.append((role, _ENV.from_string(text)))
            except TemplateError as e:
                raise RunError(f"the {role} template does not parse: {e}", location=f"prompt `{prompt.name}`") from None

    def render(self, row: Row) -> Rendered:
        """Render one row; raises RunError located at the row when a template fails."""
        out: list[tuple[str, str]] = []
        for role, tpl in self.templates:
            try:
                out.append((role, _ENV.render(tpl, row.values)))
            except Exception as e:  # UndefinedError, SecurityError, or a filter's TypeError
                raise RunError(f"the {role} template failed on this row: {e}", location=row.origin) from None
        task, template = self.prompt.task, (self.prompt.template.name, self.prompt.template.jinja)
        if task == "chat":
            if self.prompt.messages is not None:
                out += read_conversation(row.values, self.prompt.messages, row.origin)
            trained = trained_turns([role for role, _ in out], self.prompt.train_on, row.origin)
            return Rendered(row.origin, messages=tuple(out), trained=trained, template=template)
        if task == "completion":
            return Rendered(row.origin, input=out[0][1], target=out[1][1], row=row.values)
        if task == "generation":
            return Rendered(row.origin, input=out[0][1], row=row.values)
        if task == "unpaired":
            *ask, (_, completion), (_, flag) = out
            good = _flag(flag, row.origin)
            if ask[0][0] == "input":
                return Rendered(row.origin, input=ask[0][1], target=completion, desirable=good)
            return Rendered(row.origin, messages=(*ask, ("assistant", completion)), desirable=good, template=template)
        if task == "preference":
            *ask, (_, chosen), (_, rejected) = out
            if ask[0][0] == "input":
                return Rendered(row.origin, input=ask[0][1], chosen=chosen, rejected=rejected)
            return Rendered(row.origin, messages=tuple(ask), chosen=chosen, rejected=rejected, template=template)
        return Rendered(row.origin, input=out[0][1], label=out[1][1].strip())

    def render_all(self, rows: Sequence[Row], skip_bad: bool) -> tuple[list[Rendered], list[dict[str, str]]]:
        done: list[Rendered] = []
        skipped: list[dict[str, str]] = []
        for row in rows:
            try:
                done.append(self.render(row))
            except RunError as e:
                if not skip_bad:
                    raise
                skipped.append({"location": row.origin, "reason": e.message})
        return done, skipped


def _flag(text: str, origin: str) -> bool:
    """`desirable` as rendered: true/false, 1/0 or yes/no, in any case."""
    value = DESIRABLE_FLAGS.get(text.strip().lower())
    if value is None:
        raise RunError(f"`desirable` rendered {text.strip()!r}, which is not true or false", location=origin)
    return value


def infer_labels(rendered: Sequence[Rendered]) -> list[str]:
    """Sorted distinct labels of the training rows, when the prompt does not list them."""
    return sorted({r.label for r in rendered})


def plain_text(r: Rendered, eos: str = "</s>") -> str:
    """The text a scratch tokenizer trains on: what `tokenize` will feed the model."""
    if r.chosen or r.rejected:
        return "\n".join(plain_text(answer, eos) for answer in answers(r))
    if r.messages:
        return chat_layout(r.template, _Untrained(eos)).render(r.messages)
    return r.input + r.target


@dataclass(frozen=True)
class _Untrained:
    """The tokenizer a scratch model will have, before it is trained: no chat template, its EOS."""

    eos_token: str
    bos_token: str = ""
    chat_template: None = None


def answers(r: Rendered) -> tuple[Rendered, Rendered]:
    """A preference row as two rows the LM tokenisation knows: prompt + chosen, prompt + rejected."""

    def with_answer(text: str) -> Rendered:
        if r.messages:
            return Rendered(r.origin, messages=r.messages + (("assistant", text),), template=r.template)
        return Rendered(r.origin, input=r.input, target=text)

    return with_answer(r.chosen), with_answer(r.rejected)


def generation_prompt(r: Rendered, tokenizer: Any) -> list[int]:
    """Token ids a model continues to answer row `r`: everything before its last assistant
    turn (or its target), formatted exactly as `tokenize` formats it for training, so that
    generation starts where the learned answer starts."""
    specials = True
    if r.messages:
        layout = chat_layout(r.template, tokenizer)
        text, specials = layout.prompt_text(r.messages), not layout.writes_specials
    else:
        text = r.input
    enc = tokenizer(text, add_special_tokens=specials, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    # A special the tokenizer closes every text with (BERT's [SEP]) would end the prompt early.
    while len(ids) > 1 and tuple(offsets[-1]) == (0, 0):
        ids.pop()
        offsets.pop()
    return ids


def end_of_turn_ids(r: Rendered, tokenizer: Any) -> tuple[int, ...]:
    """The token that ends a chat turn of row `r`'s template, where it is one token of the tokenizer."""
    if not r.messages:
        return ()
    ids = tokenizer.convert_tokens_to_ids([chat_layout(r.template, tokenizer).end_of_turn])
    return tuple(i for i in ids if i is not None and i != tokenizer.unk_token_id)


def answer_text(r: Rendered, tokenizer: Any, generated: str) -> str:
    """A generated answer up to where its chat turn ends: a template's end-of-turn marker
    that is no special token of the tokenizer (a scratch one) stays in the decoded text."""
    if not r.messages:
        return generated
    end = chat_layout(r.template, tokenizer).end_of_turn
    return generated.split(end, 1)[0].strip() if end else generated


def _chat_text(r: Rendered, layout: ChatLayout) -> tuple[str, list[tuple[int, int]]]:
    try:
        return layout.layout(r.messages, r.trained_turns)
    except RunError as e:
        raise RunError(e.message, location=r.origin) from None
    except Exception as e:  # the model's own jinja template refused this conversation
        raise RunError(
            f"the chat template failed: {e}",
            location=r.origin,
            help="some templates allow no system turn, or need turns to alternate user/assistant",
        ) from None


def tokenize(
    rendered: Sequence[Rendered], tokenizer: Any, task: str, max_len: int, labels: Sequence[str] | None = None
) -> tuple[list[Example], TokenStats]:
    """Turn rendered rows into Examples, truncated to `max_len` tokens, counting what was cut."""
    stats = TokenStats()
    if not rendered:  # fast tokenizers fail on an empty batch
        return [], stats
    if task == "classification":
        examples = _tokenize_classification(rendered, tokenizer, max_len, labels or [], stats)
    else:
        examples = _tokenize_lm(rendered, tokenizer, max_len, stats)
    stats.examples = len(examples)
    stats.tokens = sum(len(e.input_ids) for e in examples)
    stats.target_tokens = (
        sum(sum(1 for x in e.labels if x != IGNORE) for e in examples) if task != "classification" else len(examples)
    )
    return examples, stats


def _tokenize_classification(
    rendered: Sequence[Rendered], tokenizer: Any, max_len: int, labels: Sequence[str], stats: TokenStats
) -> list[Example]:
    index = {name: i for i, name in enumerate(labels)}
    texts = [r.input for r in rendered]
    enc = tokenizer(
        texts,
        add_special_tokens=True,
        truncation=True,
        max_length=max_len,
        return_overflowing_tokens=False,
        return_length=False,
    )
    # A second, untruncated pass only counts; fast tokenizers make it cheap.
    full = tokenizer(texts, add_special_tokens=True)["input_ids"]
    out = []
    for r, ids, whole in zip(rendered, enc["input_ids"], full):
        if r.label not in index:
            raise RunError(
                f"label `{r.label}` is not one of the prompt's labels ({', '.join(labels)})", location=r.origin
            )
        stats.truncated += len(whole) > max_len
        out.append(Example(list(ids), [index[r.label]], r.origin))
    return out


def _tokenize_lm(rendered: Sequence[Rendered], tokenizer: Any, max_len: int, stats: TokenStats) -> list[Example]:
    eos_id = tokenizer.eos_token_id
    layouts: dict[TemplateRef, ChatLayout] = {}
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    if not getattr(tokenizer, "is_fast", False):
        raise RunError(
            "the model's tokenizer has no fast (tokenizers) version; the loss mask needs its character offsets",
            help="give the model a tokenizer.json",
        )
    for r in rendered:
        if r.messages:
            layout = layouts.get(r.template) or layouts.setdefault(r.template, chat_layout(r.template, tokenizer))
            text, sp = _chat_text(r, layout)
        else:
            text, sp = r.input + r.target, [(len(r.input), len(r.input + r.target))]
        texts.append(text)
        spans.append(sp)
    # A chat template writes its own BOS; plain text gets the tokenizer's usual specials.
    specials = not any(layout.writes_specials for layout in layouts.values())
    enc = tokenizer(texts, add_special_tokens=specials, return_offsets_mapping=True)
    out = []
    for r, ids, offsets, sp in zip(rendered, enc["input_ids"], enc["offset_mapping"], spans):
        ids, offsets = list(ids), [tuple(o) for o in offsets]
        # Tokenizers that close every text with a special (BERT's [SEP], T5's </s>) would
        # put it after the target: drop trailing specials, EOS is appended below.
        while len(ids) > 1 and offsets[-1] == (0, 0):
            ids.pop()
            offsets.pop()
        # A token is in the loss when its characters overlap an assistant/target span.
        lab = [t if any(s < b and e > a for a, b in sp) else IGNORE for t, (s, e) in zip(ids, offsets)]
        # EOS closes a completion's target. A chat template closes each turn itself, with
        # the EOS or an end-of-turn marker, which is in the turn's span: nothing is added.
        if eos_id is not None and not r.messages:
            ids.append(eos_id)
            lab.append(eos_id)
        if len(ids) > max_len:
            stats.truncated += 1
            ids, lab = ids[:max_len], lab[:max_len]
            if all(x == IGNORE for x in lab):
                stats.dropped_no_target += 1
                if len(stats.drops) < 20:
                    stats.drops.append(r.origin)
                continue
        out.append(Example(ids, lab, r.origin))
    return out
