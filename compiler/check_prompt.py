"""Check a `prompt` declaration: its turns, their templates, and the task they make."""

from __future__ import annotations

from typing import Any

from . import nodes as n
from .check_chat import CHAT_FIELDS, chat_options, conversation_shape
from .context import BlockShape, Context, read_block
from .diagnostics import error
from .templates import inspect_template, limit_error, limit_problem, template_error
from .values import describe, plain, unwrap

TURNS = ("system", "user", "assistant")
UNPAIRED = ("completion", "desirable")
PROMPT_SHAPE = BlockShape(
    "`prompt`",
    fields=frozenset({"labels", *CHAT_FIELDS}),
    statements=frozenset({*TURNS, "input", "target", "label", "chosen", "rejected", *UNPAIRED, "roles"}),
    repeatable=frozenset({"user", "assistant"}),
)


def check_prompt(ctx: Context, decl: n.Decl) -> dict[str, Any] | None:
    ctx.origin(("prompt",), decl)
    entries = read_block(ctx, decl.body, PROMPT_SHAPE)
    out: dict[str, Any] = {"name": decl.name}
    used: dict[str, tuple[n.Literal, str]] = {}  # field → (literal, name) of its first use
    turns = []
    for statement in entries.statements:
        if statement.name == "roles":  # a mapping of the conversation's roles, read by chat_options
            continue
        literal = statement.value
        if not isinstance(literal, n.Literal) or literal.kind != "str":
            ctx.report(
                error(
                    "E0201",
                    f"`{statement.name}` expects a template string, found {describe(literal)}",
                    literal.span,
                    "expected a string",
                )
            )
            continue
        info = inspect_template(str(literal.value))
        if info.error:
            ctx.report(template_error(statement.name, literal, info))
            continue
        if not info.fields and (problem := limit_problem(str(literal.value), [{}])):
            ctx.report(limit_error(statement.name, literal, problem))
        for name in info.fields:
            used.setdefault(name, (literal, statement.name))
        if statement.name in TURNS:
            turns.append({"role": statement.name, "template": literal.value})
        else:
            out[statement.name] = literal.value
    # Turns written as fields (`label = "…"`) were reported already; counting them here
    # keeps the prompt's shape from being reported wrong as well.
    names = {d.name for d in entries.statements} | {
        e.key.dotted for e in (decl.body.entries if decl.body else ()) if isinstance(e, n.Field)
    } & PROMPT_SHAPE.statements
    if "messages" in entries.fields:
        task = conversation_shape(ctx, decl, names)
    else:
        task = _task(ctx, decl, names)
    if task is None:
        return None
    out.update(task=task, turns=turns, fields=sorted(used))
    out.update(chat_options(ctx, entries, task))
    if "messages" in out:
        out["fields"] = sorted({*used, out["messages"]["field"]})
    if "labels" in entries.fields:
        out["labels"] = unwrap(plain(entries.fields["labels"].value, ctx.params))
        ctx.origin(("prompt", "labels"), entries.fields["labels"])
    out["_uses"] = used  # read by the data check, removed before validation
    return out


def _task(ctx: Context, decl: n.Decl, names: set[str]) -> str | None:
    has_turns = bool(names & set(TURNS))
    preference = {"chosen", "rejected"} & names
    if unpaired := set(UNPAIRED) & names:
        others = preference | (names & {"target", "label"})
        if unpaired != set(UNPAIRED) or others or ("input" not in names and "user" not in names):
            return _bad_prompt(
                ctx,
                decl,
                "an unpaired prompt needs `input` (or `user`), `completion` and `desirable`, and nothing else",
            )
        return "unpaired"
    if preference:
        if preference != {"chosen", "rejected"} or ("input" not in names and "user" not in names):
            return _bad_prompt(ctx, decl, "a preference prompt needs `input` (or `user`), `chosen` and `rejected`")
        return "preference"
    if has_turns and names & {"input", "target", "label"}:
        return _bad_prompt(
            ctx,
            decl,
            "a prompt has either chat turns (system/user/assistant) or `input` with `target` or `label`, not both",
        )
    if has_turns:
        if "assistant" not in names:
            return _bad_prompt(ctx, decl, "a chat prompt needs an `assistant` turn: the text the model learns")
        return "chat"
    if "input" in names and ("target" in names) != ("label" in names):
        return "completion" if "target" in names else "classification"
    if {"target", "label"} <= names:
        return _bad_prompt(ctx, decl, "a prompt has `target` (generate text) or `label` (classify), not both")
    if "input" in names:
        return "generation"  # an input alone: methods that learn from rewards (grpo) need no target
    return _bad_prompt(ctx, decl, "this prompt says nothing the model should learn")


def _bad_prompt(ctx: Context, decl: n.Decl, message: str) -> str | None:
    """Report a prompt of no known shape; it has no task (None)."""
    ctx.report(
        error(
            "E0310",
            message,
            decl.name_span,
            "in this prompt",
            help="\n".join(
                [
                    "a prompt takes one of these shapes:",
                    'chat:            system "…", user "…", assistant "…"',
                    'completion:      input "…", target "…"',
                    'classification:  input "…", label "{{ field }}"',
                    'preference:      input "…", chosen "…", rejected "…"',
                    'generation:      input "…" (for method grpo)',
                    'unpaired:        input "…", completion "…", desirable "{{ flag }}" (for method kto)',
                ]
            ),
        )
    )
    return None
