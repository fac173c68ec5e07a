"""Check a chat prompt's options: a conversation read from the data (`messages`, `format`, `roles`),
its chat `template` and which turns it trains on (`train_on`); and, from the data's first rows,
that the field holds lists of turns with the mapped keys and known roles."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import CHAT_TEMPLATES, CONVERSATION_FORMATS, TRAIN_ON
from ftlang.plan.chat_sandbox import chat_names, chat_sandbox
from ftlang.plan.rows import held as value_held

from . import nodes as n
from .chat_layout import STAND_IN_TOKENS, Conversation
from .context import BlockEntries, Context
from .datapeek import Peek
from .diagnostics import Diagnostic, Label, error
from .suggest import did_you_mean
from .templates import inspect_template, limit_problem, template_error
from .values import describe

CHAT_FIELDS = ("messages", "format", "template", "train_on")
CHAT_ROLES = ("system", "user", "assistant")
# What a chat template sees besides the turns (the names Hugging Face templates use).
TEMPLATE_NAMES = ("messages", "add_generation_prompt", "bos_token", "eos_token")
# A conversation to render a custom template with when the data gives none: its limits fail at check time.
SAMPLE_TURNS = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "4"},
]
# The data's conversations a template lays out at check time: the first rows, and the first of each other
# sequence of roles among the rows read (templates refuse by role: a system turn, roles that do not alternate).
_FIRST_ROWS, _MOST_LAID_OUT = 3, 8
_WRITTEN = ("input", "target", "label", "chosen", "rejected", "user", "assistant", "completion", "desirable")


def conversation_shape(ctx: Context, decl: n.Decl, names: set[str]) -> str | None:
    """A prompt with `messages` is a chat whose turns come from the data; a `system` turn may open it."""
    written = sorted(names & set(_WRITTEN))
    if not written:
        return "chat"
    ctx.report(
        error(
            "E0310",
            "a prompt reads its turns from `messages` or writes them out, not both",
            decl.name_span,
            "in this prompt",
            notes=[f"it also writes: {', '.join(written)}"],
            help='keep `messages = <field>` (and an optional `system "…"`), or remove it and write the turns',
        )
    )
    return None


def chat_options(ctx: Context, entries: BlockEntries, task: str) -> dict[str, Any]:
    """The Plan's `messages`, `template` and `train_on` of a prompt; each misplaced option is reported."""
    present = [entries.fields[k] for k in CHAT_FIELDS if k in entries.fields] + entries.all("roles")
    if task != "chat":
        for entry in present:
            _misplaced(
                ctx, entry, f"applies to chat prompts, and this is a {task} prompt", "not used by this prompt", ""
            )
        return {}
    out: dict[str, Any] = {}
    if "messages" in entries.fields:
        out["messages"] = _conversation(ctx, entries)
    else:
        for entry in [e for e in (entries.fields.get("format"), *entries.all("roles")) if e is not None]:
            why = "describes the turns of `messages`, and this prompt has none"
            _misplaced(ctx, entry, why, "no `messages`", "add `messages = <the field of turns>`, or ")
    if "template" in entries.fields:
        template = _template(ctx, entries.fields["template"])
        if template is not None:
            out["template"] = template
    if "train_on" in entries.fields:
        out["train_on"] = _choice(ctx, entries.fields["train_on"], list(TRAIN_ON), "E0333", "`train_on`")
    return {k: v for k, v in out.items() if v is not None}


def _misplaced(ctx: Context, entry: n.Field | n.Statement, why: str, label: str, fix: str) -> None:
    """E0333: a chat option where it means nothing; `fix` opens the help, before "remove it"."""
    name, span = (entry.key.dotted, entry.key.span) if isinstance(entry, n.Field) else (entry.name, entry.name_span)
    ctx.report(error("E0333", f"`{name}` {why}", span, label, help=f"{fix}remove `{name}`"))


def _name(node: n.Expr) -> str | None:
    return node.dotted if isinstance(node, n.Name) and len(node.parts) == 1 else None


def _conversation(ctx: Context, entries: BlockEntries) -> dict[str, Any] | None:
    entry = entries.fields["messages"]
    ctx.origin(("prompt", "messages"), entry)
    field = _name(entry.value)
    if field is None:
        ctx.report(
            error(
                "E0201",
                f"`messages` expects the name of a data field, found {describe(entry.value)}",
                entry.value.span,
                "expected a field name",
                help="write `messages = messages`: the field holding each row's list of turns",
            )
        )
        return None
    fmt: str | None = "openai"
    if "format" in entries.fields:
        fmt = _choice(ctx, entries.fields["format"], list(CONVERSATION_FORMATS), "E0332", "`format`")
    if fmt is None:  # the turns' keys are unknown: checking rows against a guess would mislead
        return None
    role_key, content_key, defaults = CONVERSATION_FORMATS[fmt]
    roles = dict(defaults)
    for statement in entries.all("roles"):
        roles.update(_roles(ctx, statement))
    return {"field": field, "role_key": role_key, "content_key": content_key, "roles": roles}


def _choice(ctx: Context, entry: n.Field, known: list[str], code: str, what: str) -> str | None:
    name = _name(entry.value)
    if name in known:
        return name
    shown = f"`{name}`" if name else describe(entry.value)
    ctx.report(
        error(
            code,
            f"{what} is one of {', '.join(known)}, not {shown}",
            entry.value.span,
            "not a choice",
            help=did_you_mean(name, known) if name else f"write one of: {', '.join(known)}",
        )
    )
    return None


def _roles(ctx: Context, statement: n.Statement) -> dict[str, str]:
    """`roles { human = user, gpt = assistant }`: the data's role names → chat roles."""
    ctx.origin(("prompt", "messages", "roles"), statement)
    block = statement.value
    if not isinstance(block, n.Block):
        ctx.report(
            error(
                "E0334",
                f"`roles` maps the data's role names to chat roles, found {describe(block)}",
                block.span,
                "expected `{ data_role = chat_role, … }`",
                help="write `roles { human = user, gpt = assistant }`",
            )
        )
        return {}
    out: dict[str, str] = {}
    for entry in block.entries:
        target = _name(entry.value) if isinstance(entry, n.Field) else None
        if isinstance(entry, n.Field) and len(entry.key.parts) == 1 and target in CHAT_ROLES:
            out[entry.key.dotted] = target
            continue
        span = entry.value.span if isinstance(entry, n.Field) else entry.span
        ctx.report(
            error(
                "E0334",
                "a role maps to system, user or assistant",
                span,
                "not a chat role" if isinstance(entry, n.Field) else "expected `data_role = chat_role`",
                help=(did_you_mean(target, CHAT_ROLES) if target else None)
                or "write `data_role = user` (or system, assistant)",
            )
        )
    return out


def _template(ctx: Context, entry: n.Field) -> dict[str, Any] | None:
    ctx.origin(("prompt", "template"), entry)
    value = entry.value
    if isinstance(value, n.Literal) and value.kind == "str":
        info = inspect_template(str(value.value), chat_sandbox())
        if info.error:
            ctx.report(template_error("template", value, info))
            return None
        unknown = [name for name in info.fields if name not in TEMPLATE_NAMES + chat_names()]
        if "messages" not in info.fields or unknown:
            ctx.report(
                error(
                    "E0331",
                    "a chat template lays out `messages`"
                    + (f", and it has no `{unknown[0]}`" if unknown else ", and this one never uses it"),
                    value.span,
                    "this template",
                    notes=[f"a chat template sees: {', '.join(TEMPLATE_NAMES)}"],
                    help="loop over the turns: {% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}",
                )
            )
            return None
        if problem := _limit_problem(str(value.value), [SAMPLE_TURNS]):
            ctx.report(chat_limit_error(value, problem))
            return None
        return {"name": "custom", "jinja": value.value}
    name = _name(value)
    if name in CHAT_TEMPLATES:
        return {"name": name}
    ctx.report(
        error(
            "E0330",
            f"there is no chat template named `{name}`" if name else "`template` names a chat template",
            value.span,
            "unknown template" if name else f"found {describe(value)}",
            notes=[f"built in: {', '.join(CHAT_TEMPLATES)}; or a jinja string of your own"],
            help=did_you_mean(name, list(CHAT_TEMPLATES)) if name else None,
        )
    )
    return None


def _limit_problem(jinja: str, conversations: list[list[dict[str, Any]]]) -> str | None:
    """The sandbox limit a custom chat template goes past when it lays out these conversations."""
    values = [{**STAND_IN_TOKENS, "messages": turns, "add_generation_prompt": False} for turns in conversations]
    return limit_problem(jinja, values, chat_sandbox())


def chat_limit_error(literal: n.Literal, problem: str) -> Diagnostic:
    """E0600: laying out a conversation with the template would cost more than the sandbox allows."""
    return error(
        "E0600",
        "the chat template goes past a limit of the template sandbox",
        literal.span,
        problem,
        help="a chat template lays out the turns; build no large text or numbers in it",
    )


def check_turns(ctx: Context, prompt: dict[str, Any] | None, found: Peek | None, data: str) -> list[Conversation]:
    """The data's first rows hold, under the conversation's field, lists of turns with the mapped
    keys and roles: the first row that does not is reported, at `messages` (or `roles`). Else the
    conversations a chat template is to lay out at check time."""
    conversation = (prompt or {}).get("messages")
    if not isinstance(conversation, dict) or found is None or not found.fields:
        return []
    entry = ctx.origins[("prompt", "messages")]
    assert isinstance(entry, n.Field)
    field = conversation["field"]
    if field not in found.fields:
        ctx.report(
            error(
                "E0335",
                f"the prompt reads its turns from `{field}`, which the data `{data}` does not have",
                entry.value.span,
                "no such field",
                help=did_you_mean(field, found.fields),
                notes=[f"fields of `{data}`: {', '.join(found.fields)}"],
            )
        )
        return []
    for number, row in enumerate(found.sample, start=1):
        problem = _turns_problem(row.get(field), conversation)
        if problem is None:
            continue
        code, message, help_ = problem
        span = entry.value.span
        roles = ctx.origins.get(("prompt", "messages", "roles"))
        secondary = [Label(roles.span, "the roles mapped")] if code == "E0337" and roles is not None else []
        ctx.report(
            error(
                code,
                message.format(field=f"`{field}`", data=f"`{data}`"),
                span,
                f"row {number} of `{data}`",
                secondary=secondary,
                notes=[f"read from the first {found.rows_read} rows of `{data}`"],
                help=help_,
            )
        )
        return []
    return _to_lay_out([row[field] for row in found.sample], conversation, data)


def _to_lay_out(rows: list[Any], conversation: dict[str, Any], data: str) -> list[Conversation]:
    """The first rows' conversations (lists of turns, as `_turns_problem` found them), and the first of
    each other sequence of roles, in chat roles."""
    role_key, content_key, roles = conversation["role_key"], conversation["content_key"], conversation["roles"]
    chosen: list[Conversation] = []
    seen: set[tuple[str, ...]] = set()
    for number, turns in enumerate(rows, start=1):
        laid = [{"role": roles[turn[role_key]], "content": turn[content_key]} for turn in turns]
        sequence = tuple(turn["role"] for turn in laid)
        if number <= _FIRST_ROWS or sequence not in seen:
            chosen.append(Conversation(f"row {number} of `{data}`", laid))
        seen.add(sequence)
        if len(chosen) == _MOST_LAID_OUT:
            break
    return chosen


def _turns_problem(turns: object, conversation: dict[str, Any]) -> tuple[str, str, str] | None:
    """What is wrong with one row's list of turns: (code, message, help), or None."""
    if not isinstance(turns, list):
        held = {str: "text", type(None): "nothing", dict: "a record"}.get(type(turns), type(turns).__name__)
        return (
            "E0335",
            f"{{field}} of the data {{data}} holds {held}, not a list of turns",
            'each row needs a list of turn records, e.g. [{"role": "user", "content": "…"}, …]',
        )
    role_key, content_key, roles = conversation["role_key"], conversation["content_key"], conversation["roles"]
    for index, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            return (
                "E0335",
                f"turn {index} of {{field}} is not a record",
                "each turn is a record such as {role, content}",
            )
        missing = [key for key in (role_key, content_key) if key not in turn]
        if missing:
            fmt = next((f for f, (r, c, _) in CONVERSATION_FORMATS.items() if r in turn and c in turn), None)
            return (
                "E0336",
                f"turn {index} of {{field}} has no `{missing[0]}` (its keys: {', '.join(turn) or 'none'})",
                f"its turns are `{fmt}` turns: add `format = {fmt}`"
                if fmt
                else "turns are {role, content} (`format = openai`) or {from, value} (`format = sharegpt`)",
            )
        if not isinstance(turn[content_key], str):
            what = value_held(turn[content_key])
            return (
                "E0602",
                f"turn {index} of {{field}} holds {what} under `{content_key}`, where text is expected",
                f'a turn\'s text is a string: `"{content_key}": "…"`',
            )
        if turn[role_key] not in roles:
            role = turn[role_key]
            return (
                "E0337",
                f"turn {index} of {{field}} has the role `{role}`, which the prompt does not map",
                f"map it: `roles {{ {role} = user }}` (or system, assistant); mapped: {', '.join(roles)}",
            )
    return None
