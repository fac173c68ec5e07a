"""Conversations laid out by a chat template at check time, as `ft run` lays them out: the first that goes
past a limit of the sandbox, or that the template refuses with `raise_exception`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from ftlang.plan.sandbox import LimitedSandbox, TemplateLimitError

# Seconds of laying out after which no further conversation is tried: each render is bounded by the sandbox,
# and a template just under its time limit is not also that slow once per conversation.
_LAYOUT_BUDGET_S = 2.0
# The special tokens a template of the recipe's sees at check time, and a model's own where its files name none.
STAND_IN_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}


@dataclass(frozen=True)
class Conversation:
    """Turns a chat template lays out, and where they come from, in words ("row 2 of `chats`")."""

    where: str
    turns: list[dict[str, Any]]


@dataclass(frozen=True)
class LayoutFailure:
    """A conversation a chat template cannot lay out: E0600 past a sandbox limit, or E0345 refused."""

    code: str
    reason: str
    where: str
    line: int | None = None  # the template's line that called `raise_exception`


def layout_failure(
    jinja: str, conversations: list[Conversation], env: LimitedSandbox, tokens: dict[str, Any]
) -> LayoutFailure | None:
    """The first of these conversations the template goes past a limit on, or refuses with
    `raise_exception` (other render failures, such as a name strict rules do not know, are not this check's)."""
    try:
        template = env.from_string(jinja)
    except (TemplateError, ValueError, RecursionError):  # a syntax error: reported where the template is read
        return None
    started = time.monotonic()
    for conversation in conversations:
        if time.monotonic() - started > _LAYOUT_BUDGET_S:
            return None
        values = {**tokens, "messages": conversation.turns, "add_generation_prompt": False}
        try:
            env.render(template, values)
        except TemplateLimitError as exc:
            return LayoutFailure("E0600", str(exc), conversation.where)
        except TemplateError as exc:
            if type(exc) is TemplateError:  # `raise_exception`'s; jinja's own failures are its subclasses
                return LayoutFailure("E0345", str(exc), conversation.where, _template_line(exc))
        except Exception:  # a failure of another kind is another check's, or the run's, to report
            continue
    return None


def _template_line(exc: BaseException) -> int | None:
    """The template's line in jinja's traceback (it names a template's frames `<template>`)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
