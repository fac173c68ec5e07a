"""Check the `eval` declaration: data, metrics, base comparison, guards and gates."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import DATA_SOURCES, METRICS, metrics_for

from . import nodes as n
from .calls import check_callee
from .check_consistency import unranked
from .check_sources import data_source
from .check_training import data_ref
from .context import BlockShape, Context, read_block, read_qualifiers
from .datapeek import Peek
from .diagnostics import Diagnostic, error
from .schema_check import fields_of
from .suggest import did_you_mean
from .values import describe, plain, unwrap

EVAL_SHAPE = BlockShape(
    "`eval`",
    fields=frozenset({"samples"}),
    statements=frozenset({"on", "metrics", "compare", "guard", "require", "generate"}),
    repeatable=frozenset({"guard", "require"}),
)


def check_eval(
    ctx: Context,
    decl: n.Decl,
    data_names: dict[str, list[str]],
    task: str | None,
    model_name: str | None,
    *,
    library: bool = False,
) -> tuple[dict[str, Any], list[tuple[n.Call, Peek | None]]]:
    """`library`: a reusable piece in a file without data or model to refer to."""
    ctx.origin(("eval",), decl)
    entries = read_block(ctx, decl.body, EVAL_SHAPE)
    out: dict[str, Any] = {}
    guard_sources: list[tuple[n.Call, Peek | None]] = []
    sets = entries.one("on")
    if sets is not None and isinstance(sets.value, n.ListExpr):
        out.update(_several_sets(ctx, sets.value, data_names))
    else:
        on = _evaluated_data(ctx, decl, sets, data_names, library=library)
        if on is not None:
            out["on"] = on
    allowed = metrics_for(task) if task else list(METRICS)
    if (metrics := entries.one("metrics")) is not None:
        out["metrics"] = _metrics(ctx, metrics.value, allowed, task)
    elif "loss" not in allowed:
        # The Plan's default is `loss`, which a prompt without a reference answer cannot measure.
        out["metrics"] = []
    if (compare := entries.one("compare")) is not None and _compares_base(ctx, compare, model_name, library=library):
        out["compare_base"] = True
    out["guards"] = []
    for index, guard in enumerate(entries.all("guard")):
        parsed = _guard(ctx, guard, index, allowed, task)
        if parsed is not None and isinstance(guard.value, n.Call):  # _guard accepts only a source call
            out["guards"].append(parsed[0])
            guard_sources.append((guard.value, parsed[1]))
    names = [m["name"] for m in out.get("metrics", [{"name": "loss"}])]
    out["require"] = [g for r in entries.all("require") if (g := _gate(ctx, r, names)) is not None]
    if (generate := entries.one("generate")) is not None:
        out["generation"] = _generation(ctx, generate)
    if "samples" in entries.fields:
        out["samples"] = unwrap(plain(entries.fields["samples"].value, ctx.params))
        ctx.origin(("eval", "samples"), entries.fields["samples"])
    return out, guard_sources


def _evaluated_data(
    ctx: Context, decl: n.Decl, on: n.Statement | None, data_names: dict[str, list[str]], *, library: bool
) -> dict[str, Any] | None:
    """The data `on` names, or the one data's eval split when there is no doubt which."""
    if on is not None:
        return data_ref(ctx, on.value, data_names)
    if library:
        return None
    default = _default_eval_data(data_names)
    if len(ctx.data_declared) > 1 or (default is None and data_names):
        first = sorted(ctx.data_declared)[0]
        several = len(ctx.data_declared) > 1
        ctx.report(
            error(
                "E0106",
                "`eval` must say which data it evaluates on",
                decl.name_span,
                "no `on` here",
                help=f"add `on <data>.<split>`, e.g. `on {first}.eval`",
                notes=[
                    "declared data: " + ", ".join(sorted(ctx.data_declared))
                    if several
                    else f"`{first}` has no `eval`, `test` or `validation` split to default to"
                ],
            )
        )
        return None
    return default


def _several_sets(ctx: Context, sets: n.ListExpr, data_names: dict[str, list[str]]) -> dict[str, Any]:
    """`on [chats.eval, general.eval]`: the first set is the one gates read, the others are measured too."""
    if not sets.items:
        ctx.report(
            error(
                "E0339", "`on` names no data to evaluate on", sets.span, "an empty list", help="write `on [chats.eval]`"
            )
        )
    refs: list[dict[str, Any]] = []
    for item in sets.items:
        ref = data_ref(ctx, item, data_names)
        if ref is not None and ref in refs:
            ctx.report(error("E0339", "`on` names this set twice", item.span, "again here", help="name each set once"))
        elif ref is not None:
            refs.append(ref)
    return {"on": refs[0], "also_on": refs[1:]} if refs else {}


def _compares_base(ctx: Context, compare: n.Statement, model_name: str | None, *, library: bool) -> bool:
    """`compare` names the recipe's model (any name, in a library without one)."""
    if isinstance(compare.value, n.Name) and (compare.value.dotted == model_name or library):
        return True
    what = f"`{compare.value.dotted}`" if isinstance(compare.value, n.Name) else describe(compare.value)
    ctx.report(
        error(
            "E0303",
            f"`compare` names {what}, which is not the recipe's model",
            compare.value.span,
            "not the recipe's model",
            help=f"write `compare {model_name}` to compare with the model before tuning" if model_name else None,
        )
    )
    return False


def _default_eval_data(data_names: dict[str, list[str]]) -> dict[str, Any] | None:
    if len(data_names) != 1:
        return None
    name, parts = next(iter(data_names.items()))
    for split in ("eval", "test", "validation"):
        if split in parts:
            return {"data": name, "split": split}
    return None


def _metrics(ctx: Context, node: n.Expr, allowed: list[str], task: str | None) -> list[dict[str, Any]]:
    items = node.items if isinstance(node, n.ListExpr) else (node,)
    out = []
    for item in items:
        metric = _metric(ctx, item, allowed, task)
        if metric is not None:
            out.append(metric)
    return out


def _metric(ctx: Context, node: n.Expr, allowed: list[str], task: str | None) -> dict[str, Any] | None:
    name_node = node.func if isinstance(node, n.Call) else node
    if not isinstance(name_node, n.Name):
        ctx.report(error("E0201", f"expected a metric name, found {describe(node)}", node.span, "not a metric"))
        return None
    name = name_node.dotted
    if name not in allowed:
        known = name in METRICS
        ctx.report(
            error(
                "E0208",
                f"`{name}` is not a metric for {task or 'this'} tasks" if known else f"unknown metric `{name}`",
                name_node.span,
                "not available here" if known else "not a metric",
                help=None if known else did_you_mean(name, METRICS),
                notes=[f"metrics for {task or 'any'} tasks: {', '.join(allowed)}"],
            )
        )
        return None
    if METRICS[name].argument is not None:
        if not (
            isinstance(node, n.Call)
            and len(node.args) == 1
            and isinstance(node.args[0], n.Literal)
            and node.args[0].kind == "str"
        ):
            ctx.report(
                error(
                    "E0207",
                    f"`{name}` needs a text argument",
                    node.span,
                    "missing its argument",
                    help=f'write `{name}("…")`',
                )
            )
            return None
        return {"name": name, "arg": node.args[0].value}
    if isinstance(node, n.Call):
        ctx.report(error("E0207", f"`{name}` takes no arguments", node.span, "remove the parentheses"))
        return None
    return {"name": name}


def _guard(
    ctx: Context, statement: n.Statement, index: int, allowed: list[str], task: str | None
) -> tuple[dict[str, Any], Peek | None] | None:
    loc = ("eval", "guards", index)
    ctx.origin(loc, statement)
    call = statement.value
    if not isinstance(call, n.Call):
        ctx.report(
            error(
                "E0201",
                f'`guard` expects a data source such as `jsonl("general.jsonl")`, found {describe(call)}',
                call.span,
                "not a data source",
            )
        )
        return None
    if not check_callee(ctx, call, list(DATA_SOURCES), "data source"):
        return None
    source, found = data_source(ctx, call, (*loc, "source"))
    if source is None:
        return None
    path = source.get("path", f"rows{index}")
    out: dict[str, Any] = {"name": str(path).rsplit("/", 1)[-1].split(".")[0], "source": source}
    qualifiers = read_qualifiers(ctx, statement, ["max_drop", "metric"])
    misspelt = len(qualifiers) < len(statement.qualifiers)
    if (max_drop := qualifiers.get("max_drop")) is not None:
        out["max_drop"] = plain(max_drop.value, ctx.params)
        ctx.origin((*loc, "max_drop"), max_drop.value)
    if (metric_q := qualifiers.get("metric")) is not None and (
        metric := _metric(ctx, metric_q.value, allowed, task)
    ) is not None:
        if METRICS[metric["name"]].rankable:
            out["metric"] = metric
        else:  # a guard measures how much worse the metric got
            ctx.report(unranked(metric["name"], metric_q.value.span, "a guard"))
    if "max_drop" not in out:
        if not misspelt:  # a misspelt `max_drop` was just reported; its absence follows from that
            ctx.report(
                error(
                    "E0106",
                    "`guard` needs `max_drop`",
                    statement.name_span,
                    "this guard has no `max_drop`",
                    help="append `max_drop 2%` to this line: how far its metric may fall",
                )
            )
        return None
    return out, found


def _gate(ctx: Context, statement: n.Statement, metrics: list[str]) -> dict[str, Any] | None:
    node = statement.value
    ops = (">=", "<=", ">", "<")
    if not (isinstance(node, n.BinaryOp) and node.op in ops):
        ctx.report(
            error("E0201", "`require` expects a comparison such as `accuracy >= 0.8`", node.span, "not a comparison")
        )
        return None
    subject, delta = node.left, False
    if isinstance(subject, n.Call):
        if (problem := _not_delta(subject)) is not None:
            ctx.report(problem)
            return None
        subject, delta = subject.args[0], True
    value = plain(node.right, ctx.params)
    if not isinstance(subject, n.Name):
        ctx.report(
            error(
                "E0201",
                "`require` compares a metric (or `delta(metric)`) with a number",
                subject.span,
                "not a metric name",
                help="write e.g. `require accuracy >= 0.8`",
            )
        )
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        ctx.report(
            error(
                "E0201",
                f"`require` compares `{subject.dotted}` with a number, found {describe(node.right)}",
                node.right.span,
                "not a number",
                help=f"write e.g. `require {subject.dotted} {node.op} 0.8`",
            )
        )
        return None
    if subject.dotted not in metrics:
        ctx.report(
            error(
                "E0208",
                f"`require` uses `{subject.dotted}`, which this eval does not measure",
                subject.span,
                "not among the metrics",
                help=did_you_mean(subject.dotted, metrics),
                notes=[f"measured: {', '.join(metrics)}; add it to `metrics`"],
            )
        )
        return None
    return {"metric": subject.dotted, "delta": delta, "op": node.op, "value": value}


def _not_delta(call: n.Call) -> Diagnostic | None:
    """A gate calls only `delta(metric)`: the change of one measured metric from the base model."""
    if call.func.dotted != "delta":
        return error(
            "E0216",
            f"`require` can call only `delta(metric)`, not `{call.func.dotted}(…)`",
            call.func.span,
            "not `delta`",
            help=did_you_mean(call.func.dotted, ["delta"]) or "write e.g. `require delta(accuracy) >= 0`",
        )
    if len(call.args) != 1 or call.kwargs or not isinstance(call.args[0], n.Name):
        return error(
            "E0216",
            "`delta` takes one metric name",
            call.span,
            "expected `delta(metric)`",
            help="write e.g. `require delta(accuracy) >= 0`",
        )
    return None


def _generation(ctx: Context, statement: n.Statement) -> dict[str, Any] | None:
    if not isinstance(statement.value, n.Block):
        ctx.report(
            error(
                "E0201",
                "`generate` expects a record such as `{ max_new_tokens = 32 }`",
                statement.value.span,
                "not a record",
            )
        )
        return None
    shape = BlockShape("`generate`", fields=fields_of("Generation"))
    entries = read_block(ctx, statement.value, shape)
    out = {}
    for key, entry in entries.fields.items():
        out[key] = unwrap(plain(entry.value, ctx.params))
        ctx.origin(("eval", "generation", key), entry)
    return out
