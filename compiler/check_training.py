"""Check the `method`, `train` and `compute` declarations into Plan data."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import METHODS, OPTIMIZERS, SCHEDULES

from . import nodes as n
from .calls import call_arguments, check_callee
from .check_mix import train_sources
from .check_rewards import check_rewards
from .check_tracking import check_track
from .context import BlockShape, Context, read_block
from .diagnostics import Label, error
from .schema_check import fields_of
from .suggest import did_you_mean
from .values import Symbol, describe, plain, unwrap

# `data` is a field (one source) or repeated statements (a mixture: `data chats.train weight 0.9`).
TRAIN_SHAPE = BlockShape(
    "`train`", fields=fields_of("TrainPlan"), statements=frozenset({"data"}), repeatable=frozenset({"data"})
)


def check_method(ctx: Context, decl: n.Decl) -> dict[str, Any] | None:
    ctx.origin(("method",), decl)
    kind = decl.name or ""
    if kind not in METHODS:
        ctx.report(
            error(
                "E0203",
                f"unknown method `{kind}`",
                decl.name_span,
                "not a method",
                help=did_you_mean(kind, METHODS),
                notes=["methods: " + ", ".join(METHODS)],
            )
        )
        return None
    spec = METHODS[kind]
    # Rewards are statements (`reward …`, one a line), not a field.
    rewards = frozenset({"reward"}) if "rewards" in spec.nested_fields else frozenset()
    shape = BlockShape(
        f"`method {kind}`",
        fields=fields_of(spec.plan_model) - {"kind", "rewards"},
        statements=rewards,
        repeatable=rewards,
    )
    entries = read_block(ctx, decl.body, shape)
    out: dict[str, Any] = {"kind": kind}
    if rewards and (rewards_found := check_rewards(ctx, entries.all("reward"))):
        out["rewards"] = rewards_found
    for key, entry in entries.fields.items():
        ctx.origin(("method", key), entry)
        if key == "adapter" and isinstance(entry.value, n.Call):
            if check_callee(ctx, entry.value, ["lora"], "adapter"):
                args = call_arguments(
                    ctx, entry.value, ("method", "adapter"), [], sorted(fields_of("LoraMethod") - {"kind"})
                )
                if args is not None:
                    out[key] = {"kind": "lora", **args}
            continue
        out[key] = _field_value(ctx, entry)
    return out


def _field_value(ctx: Context, entry: n.Field) -> Any:
    value = plain(entry.value, ctx.params)
    if isinstance(value, n.Call | n.BinaryOp | n.UnaryOp | n.Block):
        return _WrongShape()
    return unwrap(value)


class _WrongShape:
    """Stands for a call, an operator or a record where a plain value belongs: it fits no type of
    the Plan's schema, so validation reports the field, naming what was written from its node."""


def check_train(
    ctx: Context, decl: n.Decl, data_names: dict[str, list[str]], *, library: bool = False
) -> dict[str, Any]:
    """`library`: a reusable piece in a file without data, so no data to default to."""
    ctx.origin(("train",), decl)
    entries = read_block(ctx, decl.body, TRAIN_SHAPE)
    out: dict[str, Any] = {}
    sources = train_sources(ctx, decl, entries, lambda node: data_ref(ctx, node, data_names))
    if sources is not None:
        out["data"] = sources
    for key, entry in entries.fields.items():
        if key == "data":
            continue
        ctx.origin(("train", key), entry)
        if key == "schedule":
            schedule = _schedule(ctx, entry.value)
            if schedule is not None:
                out[key] = schedule
        elif key == "optimizer":
            optimizer = _optimizer(ctx, entry.value)
            if optimizer is not None:
                out[key] = optimizer
        elif key == "track":
            trackers = check_track(ctx, entry.value)
            if trackers is not None:
                out[key] = trackers
        elif key == "eval_every" and _not_epoch(ctx, entry.value):
            continue  # reported: a name that is no choice
        else:
            out[key] = _field_value(ctx, entry)
    if "data" not in entries.fields and not entries.all("data") and not library:
        default = default_train_data(data_names)
        if len(ctx.data_declared) > 1:
            ctx.report(
                error(
                    "E0106",
                    "`train` must say which data it trains on",
                    decl.name_span,
                    "several data declarations: which one?",
                    help=f"add `data = {sorted(ctx.data_declared)[0]}.train`",
                    notes=["declared data: " + ", ".join(sorted(ctx.data_declared))],
                )
            )
        elif default is not None:
            out["data"] = [default]
    batch, micro = out.get("batch"), out.get("micro_batch")
    if isinstance(batch, int) and isinstance(micro, int) and micro > 0 and batch % micro:
        ctx.report(
            error(
                "E0205",
                f"`batch` ({batch}) is not a multiple of `micro_batch` ({micro})",
                entries.fields["micro_batch"].value.span,
                "does not divide the batch",
                secondary=[Label(entries.fields["batch"].value.span, "the global batch")],
                help="gradient accumulation runs batch / micro_batch micro-steps per step",
            )
        )
    return out


def _not_epoch(ctx: Context, value: n.Expr) -> bool:
    """`eval_every = <a name>` that is neither `epoch` nor a parameter: reported here."""
    if not isinstance(value, n.Name) or value.dotted in {"epoch", *ctx.declared_params}:
        return False
    ctx.report(
        error(
            "E0203",
            f"`eval_every` is a number of steps or `epoch`, not `{value.dotted}`",
            value.span,
            "not a choice",
            help=did_you_mean(value.dotted, ["epoch"]) or "write `eval_every = 50` or `eval_every = epoch`",
        )
    )
    return True


def default_train_data(data_names: dict[str, list[str]]) -> dict[str, Any] | None:
    if len(data_names) != 1:
        return None
    name, parts = next(iter(data_names.items()))
    return {"data": name, "split": "train" if "train" in parts else None}


def data_ref(ctx: Context, node: n.Expr, data_names: dict[str, list[str]]) -> dict[str, Any] | None:
    """`tickets` or `tickets.eval` as a DataRef, after checking both names exist."""
    if not isinstance(node, n.Name) or len(node.parts) > 2:
        ctx.report(
            error(
                "E0201",
                f"expected a data reference like `tickets.eval`, found {describe(node)}",
                node.span,
                "not a data reference",
            )
        )
        return None
    data = node.parts[0]
    if data not in data_names and data in ctx.data_declared:
        return None  # its declaration has an error, reported there
    if data not in data_names:
        ctx.report(
            error(
                "E0303",
                f"there is no data named `{data}`",
                node.span,
                "not declared",
                help=did_you_mean(data, data_names),
                notes=["declared data: " + (", ".join(data_names) or "none")],
            )
        )
        return None
    split = node.parts[1] if len(node.parts) == 2 else None
    if split is not None and split not in data_names[data]:
        ctx.report(
            error(
                "E0304",
                f"the data `{data}` has no split `{split}`",
                node.span,
                "no such split",
                help=did_you_mean(split, data_names[data]),
                notes=[f"splits of `{data}`: {', '.join(data_names[data])}"],
            )
        )
        return None
    return {"data": data, "split": split}


def _schedule(ctx: Context, node: n.Expr) -> dict[str, Any] | None:
    keywords = sorted(fields_of("Schedule") - {"kind"})
    return _named_call(ctx, node, "schedule", {name: keywords for name in SCHEDULES}, "cosine(warmup = 3%)")


def _optimizer(ctx: Context, node: n.Expr) -> dict[str, Any] | None:
    settings = {name: list(spec.settings) for name, spec in OPTIMIZERS.items()}
    return _named_call(ctx, node, "optimizer", settings, "adamw(betas = [0.9, 0.95])")


def _named_call(
    ctx: Context, node: n.Expr, what: str, choices: dict[str, list[str]], example: str
) -> dict[str, Any] | None:
    """A choice written by name (`cosine`) or called with its settings (`cosine(warmup = 3%)`)."""
    names = list(choices)
    if isinstance(node, n.Name) and len(node.parts) == 1:
        value = plain(node, ctx.params)
        name = value.name if isinstance(value, Symbol) else value
        if name not in choices:
            ctx.report(
                error(
                    "E0203",
                    f"unknown {what} `{name}`",
                    node.span,
                    f"not a {what}",
                    help=did_you_mean(str(name), names),
                    notes=[f"{what}s: " + ", ".join(names)],
                )
            )
            return None
        return {"kind": name}
    if isinstance(node, n.Call):
        if not check_callee(ctx, node, names, what):
            return None
        args = call_arguments(ctx, node, ("train", what), [], choices[node.func.dotted])
        return None if args is None else {"kind": node.func.dotted, **args}
    ctx.report(
        error(
            "E0201",
            f"`{what}` expects a {what} such as `{example}`, found {describe(node)}",
            node.span,
            f"not a {what}",
        )
    )
    return None


COMPUTE_SHAPE = BlockShape("`compute`", fields=fields_of("ComputePlan"))


def check_compute(ctx: Context, decl: n.Decl) -> dict[str, Any]:
    ctx.origin(("compute",), decl)
    entries = read_block(ctx, decl.body, COMPUTE_SHAPE)
    out: dict[str, Any] = {}
    for key, entry in entries.fields.items():
        ctx.origin(("compute", key), entry)
        out[key] = _field_value(ctx, entry)
    return out
