"""Chat templates: lay out chat turns as text, and find the spans of the turns the loss covers.

A template is jinja over `messages` (each `{role, content}`), `add_generation_prompt`,
`bos_token` and `eos_token`, rendered in the bounded template sandbox like the prompt templates
(plan/chat_sandbox.py: the same limits on output, numbers, loops and time, and the helpers Hugging
Face chat templates use). The built-ins follow the layouts their model families ship; `tokenizer`
is the model's own template (the `plain` one when it has none), rendered in that sandbox too, with
the values and whitespace rules `apply_chat_template` gives it.

A trained turn's span runs from its content to the end of what the template writes for
that turn, trailing whitespace aside: the content and its end-of-turn marker (`<|im_end|>`,
`<|eot_id|>`, `</s>`, …), so the model learns to close its turn. The span is found by
rendering the conversation up to each turn: what turn i adds is the text between the
renderings of turns [0, i) and [0, i].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError

from ftlang.plan.chat_sandbox import chat_sandbox, tokenizer_sandbox
from ftlang.plan.sandbox import TemplateLimitError
from ftlang.runtime.errors import RunError

BUILT_IN: dict[str, str] = {
    "chatml": (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
        "{{ m.content }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    ),
    # Mistral and Gemma have no system role: a system turn opens the first user turn.
    "mistral": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if m.role == 'system' %}[INST] {{ m.content }}\n\n"
        "{% elif m.role == 'user' %}{% if loop.first or loop.previtem.role != 'system' %}[INST] {% endif %}"
        "{{ m.content }} [/INST]"
        "{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}"
    ),
    "gemma": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if m.role == 'system' %}<start_of_turn>user\n{{ m.content }}\n\n"
        "{% elif m.role == 'user' %}{% if loop.first or loop.previtem.role != 'system' %}<start_of_turn>user\n"
        "{% endif %}{{ m.content }}<end_of_turn>\n"
        "{% else %}<start_of_turn>model\n{{ m.content }}<end_of_turn>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
    "alpaca": (
        "{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n\n"
        "{% elif m.role == 'user' %}### Instruction:\n{{ m.content }}\n\n"
        "{% else %}### Response:\n{{ m.content }}{{ eos_token }}\n\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}### Response:\n{% endif %}"
    ),
    # The format scratch tokenizers learn; its role markers are special tokens of theirs.
    "plain": (
        "{% for m in messages %}{% if not loop.first %}\n{% endif %}<|{{ m.role }}|>\n{{ m.content }}"
        "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{% if messages %}\n{% endif %}<|assistant|>\n{% endif %}"
    ),
}

# The markers the built-ins write; a scratch tokenizer makes each one token.
MARKERS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "[INST]",
    "[/INST]",
    "<start_of_turn>",
    "<end_of_turn>",
)

# What closes an assistant turn, where it is not the EOS: generation stops there.
END_OF_TURN = {"chatml": "<|im_end|>", "llama3": "<|eot_id|>", "gemma": "<end_of_turn>"}

Messages = Sequence[tuple[str, str]]
TemplateRef = tuple[str, str | None]  # a ChatTemplate's name and custom jinja
DEFAULT_TEMPLATE: TemplateRef = ("tokenizer", None)
Spans = list[tuple[int, int]]


@dataclass(frozen=True)
class ChatLayout:
    """One chat template bound to one tokenizer's BOS and EOS texts."""

    name: str
    template: Template
    tokenizer: Any
    bos: str
    eos: str

    @property
    def writes_specials(self) -> bool:
        """Whether the layout writes its own BOS: the tokenizer must then add none."""
        return self.name not in ("plain", "alpaca")

    @property
    def end_of_turn(self) -> str:
        return END_OF_TURN.get(self.name, self.eos)

    def render(self, messages: Messages, generation_prompt: bool = False) -> str:
        """The conversation as text; RunError when the template goes past a limit of the sandbox."""
        msgs = [{"role": r, "content": c} for r, c in messages]
        values: dict[str, Any] = {"messages": msgs, "add_generation_prompt": generation_prompt}
        if self.name == "tokenizer":
            if not msgs:  # as `apply_chat_template`, which refuses an empty conversation
                raise ValueError("an empty conversation")
            # What `apply_chat_template` gives the model's template: its special tokens, no tools.
            values = {**self.tokenizer.special_tokens_map, "tools": None, "documents": None, **values}
            env = tokenizer_sandbox()
        else:
            values.update(bos_token=self.bos, eos_token=self.eos)
            env = chat_sandbox()
        try:
            return env.render(self.template, values)
        except TemplateLimitError as e:
            raise RunError(
                f"{_describe(self.name)} goes past a limit of the template sandbox: {e}",
                help="a chat template lays out the turns; it builds no large text or numbers",
            ) from None

    def layout(self, messages: Messages, trained: Sequence[bool]) -> tuple[str, Spans]:
        """The conversation's text and the character spans of its trained turns."""
        renders = [self._prefix(messages, i) for i in range(len(messages))] + [self.render(messages)]
        full = renders[-1] or ""
        spans: Spans = []
        for i, ((_, content), train) in enumerate(zip(messages, trained)):
            if not train:
                continue
            before, upto = renders[i], renders[i + 1]
            if before is None or upto is None or not upto.startswith(before) or not full.startswith(upto):
                spans.append(_found(full, content, spans[-1][1] if spans else 0))
                continue
            start = _find_content(upto, content, len(before))
            spans.append((start, max(start, len(upto.rstrip()))))
        return full, spans

    def prompt_text(self, messages: Messages) -> str:
        """The text a model continues to write the last turn: the turns before it, then the
        assistant header (the generation prompt)."""
        return self.render(messages[:-1], generation_prompt=True)

    def _prefix(self, messages: Messages, i: int) -> str | None:
        try:
            return self.render(messages[:i])
        except RunError:  # a sandbox limit: the template fails on every prefix alike
            raise
        except Exception:  # templates refuse an empty conversation, or one that does not end a certain way
            return "" if i == 0 else None


def _describe(name: str) -> str:
    if name == "tokenizer":
        return "the model's own chat template (its tokenizer's `chat_template`)"
    return "the prompt's own chat template" if name == "custom" else f"the chat template `{name}`"


def _found(full: str, content: str, after: int) -> tuple[int, int]:
    """A template that is not prefix stable: the turn's own text, searched in order."""
    start = _find_content(full, content, after)
    return start, start + (len(content) if full.startswith(content, start) else len(content.strip()))


def _find_content(text: str, content: str, after: int) -> int:
    at = text.find(content, after)
    if at < 0 and content.strip():
        at = text.find(content.strip(), after)  # templates that trim each turn
    if at < 0:
        raise RunError("the chat template drops a turn's text; cannot place the loss on it")
    return at


def chat_layout(template: TemplateRef, tokenizer: Any) -> ChatLayout:
    """The layout a prompt's `template` (name, custom jinja) names, for this tokenizer."""
    bos, eos = getattr(tokenizer, "bos_token", None) or "", getattr(tokenizer, "eos_token", None) or ""
    name, jinja = template
    if name == "tokenizer":
        if getattr(tokenizer, "chat_template", None):
            try:
                own = str(tokenizer.get_chat_template())
            except ValueError as e:  # several templates and none the default
                raise RunError(f"the model's tokenizer has no one chat template: {e}") from None
            return ChatLayout(name, _compiled(own, name), tokenizer, bos, eos)
        name = "plain"
    text = jinja if name == "custom" else BUILT_IN.get(name)
    if text is None:
        raise RunError(f"no chat template named `{name}`", help=f"built in: {', '.join(BUILT_IN)}")
    return ChatLayout(name, _compiled(text, name), tokenizer, bos, eos)


@lru_cache(maxsize=16)
def _compiled(text: str, name: str) -> Template:
    """A template compiled once: layouts are asked for row by row (generation, answers)."""
    env = tokenizer_sandbox() if name == "tokenizer" else chat_sandbox()
    try:
        return env.from_string(text)
    except (TemplateError, ValueError, RecursionError) as e:  # a number past int-to-str limits, deep nesting
        raise RunError(f"{_describe(name)} does not parse: {e}") from None
