"""A chat prompt's conversations laid out at check time by the template `ft run` lays them out with: the
recipe's own jinja, or the model's own template (`template = tokenizer`, the default) where the model is a
local folder or a hub model in the local cache. The data's first conversations (and the prompt's own turns)
render in the sandbox `ft run` renders them in, so a template past a limit (E0600), one that does not
parse (E0344) or one that refuses a conversation the data holds (E0345) is found here, not after the
model loaded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlang.plan.chat_sandbox import chat_sandbox, tokenizer_sandbox

from . import nodes as n
from .chat_layout import STAND_IN_TOKENS, Conversation, LayoutFailure, layout_failure
from .check_chat import SAMPLE_TURNS, chat_limit_error
from .context import Context
from .diagnostics import Diagnostic, Label, error
from .modelpeek import model_folder
from .source import Span
from .templates import inspect_template, line_span

_MAX_CONFIG = 50_000_000  # bytes of tokenizer_config.json read: big vocabularies' added tokens, not more
_SAMPLE = Conversation("a sample conversation", SAMPLE_TURNS)
_SPECIAL = ("bos_token", "eos_token", "unk_token", "pad_token")
_FIX_LAYOUT = "lay the turns out with a template of the recipe's: `template = chatml` (or another built-in)"


@dataclass(frozen=True)
class _Shipped:
    """The chat template a model ships, where it was read, and the special tokens beside it."""

    text: str
    read_from: str  # in words: `m/tokenizer_config.json`, or the file of a cached hub model
    tokens: dict[str, Any]


def check_model_template(ctx: Context, plan: dict[str, Any], conversations: list[Conversation]) -> None:
    prompt = plan.get("prompt") or {}
    if prompt.get("task") != "chat":
        return
    conversations = _with_prompt_turns(prompt, conversations)
    template = prompt.get("template") or {}
    name = template.get("name", "tokenizer")
    if name == "custom" and isinstance(template.get("jinja"), str):
        _check_custom(ctx, template["jinja"], conversations)
    elif name == "tokenizer":
        _check_shipped(ctx, (plan.get("model") or {}).get("source") or {}, conversations)


def _with_prompt_turns(prompt: dict[str, Any], conversations: list[Conversation]) -> list[Conversation]:
    """The turns the prompt writes itself open each conversation of the data (a `system` turn); a
    prompt without `messages` is laid out as its own turns, their templates standing in for the text."""
    written = [{"role": turn["role"], "content": turn["template"]} for turn in prompt.get("turns") or []]
    if prompt.get("messages"):
        return [Conversation(c.where, written + c.turns) for c in conversations]
    return [Conversation("the prompt's turns", written)] if written else []


def _check_custom(ctx: Context, jinja: str, conversations: list[Conversation]) -> None:
    entry = ctx.origins.get(("prompt", "template"))
    if not isinstance(entry, n.Field) or not isinstance(entry.value, n.Literal):
        return
    failure = layout_failure(jinja, conversations, chat_sandbox(), STAND_IN_TOKENS)
    if failure is None:
        return
    if failure.code == "E0600":
        ctx.report(chat_limit_error(entry.value, failure.reason))
        return
    ctx.report(
        error(
            "E0345",
            f"the chat template refuses {failure.where}",
            line_span(entry.value, failure.line or 1),
            f"raises: {failure.reason}",
            help="change the template to accept the conversation, or the data to fit the template",
        )
    )


def _check_shipped(ctx: Context, source: dict[str, Any], conversations: list[Conversation]) -> None:
    model_at, template_at = ctx.origins.get(("model", "source")), ctx.origins.get(("prompt", "template"))
    shipped = _shipped_template(source, ctx.root)
    if shipped is None or model_at is None:
        return
    info = inspect_template(shipped.text, tokenizer_sandbox())
    if info.error:
        line = f"line {info.error_line or 1} of the chat template in {shipped.read_from}: {info.error}"
        ctx.report(
            error(
                "E0344",
                "the model's own chat template is not valid jinja2",
                model_at.span,
                "its chat template does not parse",
                notes=[line, *info.details],
                help=_FIX_LAYOUT,
            )
        )
        return
    values = {**STAND_IN_TOKENS, "tools": None, "documents": None, **shipped.tokens}
    failure = layout_failure(shipped.text, [*conversations, _SAMPLE], tokenizer_sandbox(), values)
    if failure is None or (failure.code == "E0345" and failure.where == _SAMPLE.where):
        return  # the sample's system turn is no turn of the data's: a refusal of it is no fault
    spans = _Spans(model_at.span, template_at.span if template_at else None)
    ctx.report(_shipped_failure(spans, shipped, failure))


@dataclass(frozen=True)
class _Spans:
    model: Span  # the model's source: `local("m")`, `hf("org/name")`
    template: Span | None  # `template = tokenizer`, where the prompt names the model's own


def _shipped_failure(spans: _Spans, shipped: _Shipped, failure: LayoutFailure) -> Diagnostic:
    if failure.code == "E0600":
        return error(
            "E0600",
            "the model's own chat template goes past a limit of the template sandbox",
            spans.template or spans.model,
            failure.reason,
            notes=[f"read from {shipped.read_from}"],
            help=_FIX_LAYOUT,
        )
    return error(
        "E0345",
        f"the model's own chat template refuses {failure.where}",
        spans.model,
        f"its template raises: {failure.reason}",
        secondary=[Label(spans.template, "the model's own template")] if spans.template else [],
        notes=[f"raised at line {failure.line or 1} of the chat template in {shipped.read_from}"],
        help="map the data's turns to roles the template accepts, or " + _FIX_LAYOUT,
    )


def _shipped_template(source: dict[str, Any], root: Path) -> _Shipped | None:
    """The chat template a local model folder, or a hub model's cached snapshot, ships: tokenizer_config.json's,
    else chat_template.jinja."""
    folder = model_folder(source, root)
    if folder is None:
        return None
    shown = f"{source['path']}/{{}}" if source["kind"] == "local" else f"{{}} of the cached `{source['id']}`"
    config_file, jinja = folder / "tokenizer_config.json", folder / "chat_template.jinja"
    try:
        config = _read_config(config_file)
        template = _named_default(config.get("chat_template"))
        if template is not None:
            return _Shipped(template, shown.format("tokenizer_config.json"), _special_tokens(config))
        if jinja.is_file() and jinja.stat().st_size <= _MAX_CONFIG:
            text = jinja.read_text(encoding="utf-8")
            return _Shipped(text, shown.format("chat_template.jinja"), _special_tokens(config))
    except (OSError, ValueError, RecursionError):  # not JSON, not UTF-8
        return None
    return None


def _read_config(path: Path) -> dict[str, Any]:
    """tokenizer_config.json as an object; nothing where it is missing, too big or not an object."""
    if not path.is_file() or path.stat().st_size > _MAX_CONFIG:
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    return config if isinstance(config, dict) else {}


def _special_tokens(config: dict[str, Any]) -> dict[str, str]:
    """The special tokens the config names (text, or transformers' `{"content": …}`), as the template sees them."""
    tokens: dict[str, str] = {}
    for name in _SPECIAL:
        value = config.get(name)
        text = value.get("content") if isinstance(value, dict) else value
        if isinstance(text, str):
            tokens[name] = text
    return tokens


def _named_default(template: object) -> str | None:
    """A template as transformers stores it: text, or a list of `{name, template}` with a `default`."""
    if isinstance(template, str):
        return template
    if isinstance(template, list):
        named = [t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"]
        chosen = named[-1] if named else None
        return chosen if isinstance(chosen, str) else None
    return None
