"""Conversations: a data field holding a list of turns, read as chat messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ftlang.plan.models import Conversation
from ftlang.plan.rows import held
from ftlang.runtime.errors import RunError


def read_conversation(values: Mapping[str, Any], conversation: Conversation, origin: str) -> list[tuple[str, str]]:
    """The (chat role, text) turns of one row, roles mapped; RunError at the row when they are not turns."""
    turns = values.get(conversation.field)
    if not isinstance(turns, list) or not turns:
        raise RunError(f"`{conversation.field}` is not a list of turns ({_kind(turns)})", location=origin)
    out = []
    for number, turn in enumerate(turns, start=1):
        where = f"turn {number} of `{conversation.field}`"
        if not isinstance(turn, Mapping):
            raise RunError(f"{where} is not a record ({_kind(turn)})", location=origin)
        role, content = turn.get(conversation.role_key), turn.get(conversation.content_key)
        if role not in conversation.roles:
            known = ", ".join(conversation.roles)
            raise RunError(
                f"{where} has the role {role!r}, which the prompt does not map",
                location=origin,
                help=f"mapped roles: {known}; map it in the prompt's `roles {{ … }}`",
            )
        if not isinstance(content, str):
            what = "missing" if conversation.content_key not in turn else held(content)
            raise RunError(f"{where} has no text under `{conversation.content_key}` ({what})", location=origin)
        out.append((conversation.roles[role], content))
    return out


def trained_turns(roles: Sequence[str], train_on: str, origin: str) -> tuple[bool, ...]:
    """Which turns the loss covers: every assistant turn, the last one, or all of them."""
    assistant = [role == "assistant" for role in roles]
    if not any(assistant):
        raise RunError("the conversation has no assistant turn to learn from", location=origin)
    if train_on == "all":
        return tuple(True for _ in roles)
    if train_on == "last":
        last = len(assistant) - 1 - assistant[::-1].index(True)
        return tuple(i == last for i in range(len(roles)))
    return tuple(assistant)


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean", dict: "a record"}.get(
        type(value), type(value).__name__
    )
