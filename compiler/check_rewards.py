"""Check the `reward` statements of `method grpo`: built-in reward terms and plugins."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import REWARDS

from . import nodes as n
from .context import Context, read_qualifiers
from .diagnostics import Diagnostic, error
from .reward_models import reward_model_problem
from .suggest import did_you_mean
from .values import describe, plain

ENTRY_POINT_GROUP = "ftlang.rewards"


def check_rewards(ctx: Context, statements: list[n.Statement]) -> list[dict[str, Any]]:
    out = []
    for index, statement in enumerate(statements):
        reward = _reward(ctx, statement)
        if reward is not None:
            ctx.origin(("method", "rewards", index), statement)
            out.append(reward)
    method = ctx.origins[("method",)]
    if not statements and isinstance(method, n.Decl):
        ctx.report(
            error(
                "E0106",
                "`method grpo` needs at least one `reward`",
                method.name_span,
                "rewards nothing",
                help='add e.g. `reward exact(answer)` or `reward regex("^\\\\d+$")`',
            )
        )
    return out


def _reward(ctx: Context, statement: n.Statement) -> dict[str, Any] | None:
    node = statement.value
    name_node = node.func if isinstance(node, n.Call) else node
    if not isinstance(name_node, n.Name) or name_node.dotted not in REWARDS:
        ctx.report(_unknown_reward(node, name_node))
        return None
    kind = name_node.dotted
    argument = REWARDS[kind].argument
    args = list(node.args) + [k.value for k in node.kwargs] if isinstance(node, n.Call) else []
    if argument is None and args or argument is not None and len(args) != 1:
        usage = f"{kind}" if argument is None else f"{kind}(<{argument}>)"
        ctx.report(
            error(
                "E0207",
                f"`{kind}` takes {'no argument' if argument is None else 'one argument'}",
                node.span,
                "wrong arguments",
                help=f"write `reward {usage}`",
            )
        )
        return None
    out: dict[str, Any] = {"kind": kind}
    if argument is not None and not _read_argument(ctx, kind, argument, args[0], out):
        return None
    if (weight := read_qualifiers(ctx, statement, ["weight"]).get("weight")) is not None:
        out["weight"] = plain(weight.value, ctx.params)
    if kind == "model" and (problem := reward_model_problem(ctx, out.get("path"), args[0])) is not None:
        ctx.report(problem)
        return None
    if kind == "plugin" and isinstance(out.get("name"), str) and not _plugin_exists(out["name"]):
        ctx.report(
            error(
                "E0206",
                f"no installed package registers the reward `{out['name']}`",
                node.span,
                "not registered",
                notes=[f"rewards are registered under the `{ENTRY_POINT_GROUP}` entry point"],
            )
        )
        return None
    return out


def _unknown_reward(node: n.Expr, name_node: n.Expr) -> Diagnostic:
    name = name_node.dotted if isinstance(name_node, n.Name) else ""
    return error(
        "E0206",
        f"unknown reward `{name}`" if name else f"expected a reward, found {describe(node)}",
        name_node.span,
        "not a reward",
        help=did_you_mean(name, REWARDS) if name else None,
        notes=["rewards: " + ", ".join(spec.written for spec in REWARDS.values())],
    )


def _read_argument(ctx: Context, kind: str, argument: str, value: n.Expr, out: dict[str, Any]) -> bool:
    """The reward's one argument into `out`; a field must be a field name. False when wrong."""
    if argument != "field":
        out[argument] = plain(value, ctx.params)
        return True
    if not isinstance(value, n.Name):
        ctx.report(
            error(
                "E0201",
                f"`{kind}` compares with a data field; found {describe(value)}",
                value.span,
                "expected a field name",
                help=f"write `reward {kind}(answer)`",
            )
        )
        return False
    out["field"] = value.dotted
    return True


def _plugin_exists(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == name for ep in entry_points(group=ENTRY_POINT_GROUP))


def reward_fields(rewards: list[dict[str, Any]]) -> list[str]:
    """The data fields the rewards compare with; they must exist in the training data."""
    return sorted({r["field"] for r in rewards if r.get("field")})
