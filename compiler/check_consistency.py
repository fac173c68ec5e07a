"""Checks across declarations: prompt fields against data, methods against prompts and models."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import METHODS, METRICS, methods_for

from . import nodes as n
from .context import Context
from .datapeek import Peek
from .diagnostics import Diagnostic, Label, error
from .modelpeek import model_facts
from .schema_check import default_of
from .source import Span
from .suggest import did_you_mean
from .templates import limit_error, limit_problem, span_in_literal


def check_model_fit(ctx: Context, plan: dict[str, Any]) -> None:
    """LoRA targets must be modules of the model, and a scratch model's shape must be sound.

    The model's config is read (from its folder, package or the hub cache), never its weights."""
    model, method = plan.get("model"), plan.get("method")
    if not isinstance(model, dict) or not isinstance(model.get("source"), dict):
        return
    source = model["source"]
    if source["kind"] == "scratch":
        hidden = source.get("hidden", default_of("ScratchModel", "hidden"))
        heads = source.get("heads", default_of("ScratchModel", "heads"))
        if isinstance(hidden, int) and isinstance(heads, int) and heads > 0 and hidden % heads:
            node = ctx.origins.get(("model", "source", "heads")) or ctx.origins[("model", "source")]
            ctx.report(
                error(
                    "E0312",
                    f"`hidden` ({hidden}) is not a multiple of `heads` ({heads})",
                    node.span,
                    "each head gets hidden / heads dimensions",
                    help="pick `heads` that divides `hidden`",
                )
            )
    adapter = method.get("adapter") if isinstance(method, dict) and method.get("kind") != "lora" else method
    targets = adapter.get("targets") if isinstance(adapter, dict) else None
    if not targets or not isinstance(targets, list):
        return
    facts = model_facts(source, ctx.root)
    known = facts.modules if facts else None
    if not known or facts is None:
        return
    loc = ("method", "adapter", "targets") if adapter is not method else ("method", "targets")
    entry = ctx.origins.get(loc)
    items = entry.value.items if isinstance(entry, n.Field) and isinstance(entry.value, n.ListExpr) else ()
    for index, target in enumerate(targets):
        if isinstance(target, str) and target not in known:
            span = items[index].span if index < len(items) else (entry.span if entry else ctx.origins[("method",)].span)
            ctx.report(
                error(
                    "E0312",
                    f"the model has no module `{target}` for LoRA",
                    span,
                    "not a module of this model",
                    help=did_you_mean(target, known),
                    notes=[f"{facts.model_type} models have: {', '.join(known)} (read from {facts.where})"],
                )
            )


def check_fields(
    ctx: Context, prompt: dict[str, Any] | None, found: Peek | None, what: str, call: n.Call | None
) -> None:
    """Every `{{ field }}` of the prompt must be a field of the data it is rendered with."""
    if not prompt or found is None or not found.fields:
        return
    fields = set(found.fields)
    missing = set(prompt["_uses"]) - fields
    if not missing:
        _check_limits(ctx, prompt["_uses"], found)
    for name, (literal, _turn) in prompt["_uses"].items():
        if name in fields:
            continue
        read = (
            "first row"
            if found.rows_read == 1
            else (f"first {found.rows_read} rows" if found.rows_read else "its schema")
        )
        ctx.report(
            error(
                "E0301",
                f"the template uses `{name}`, which the {what} does not have",
                span_in_literal(literal, name),
                "no such field",
                help=did_you_mean(name, fields),
                secondary=[Label(call.span, "rendered with this data")] if call is not None else [],
                notes=[f"fields of the {what} ({read}): " + ", ".join(found.fields)],
            )
        )


def _check_limits(ctx: Context, uses: dict[str, tuple[n.Literal, str]], found: Peek) -> None:
    """Each template rendered with the first rows read: one that builds text or numbers past the
    sandbox's limits fails here, located, not hours into `ft run`."""
    rows = [row for row in found.sample[:3] if isinstance(row, dict)]
    seen: set[int] = set()
    for literal, turn in uses.values():
        if id(literal) in seen or not rows:
            continue
        seen.add(id(literal))
        if problem := limit_problem(str(literal.value), rows):
            ctx.report(limit_error(turn, literal, problem))


_HOW = {
    "preference": "input, chosen and rejected",
    "generation": "an `input` alone (rewards judge the output)",
    "unpaired": "input, completion and desirable (a template that renders to true or false)",
}
# What a prompt of each shape holds, for the help that names the methods learning from it.
_ROWS = {"preference": "chosen/rejected pairs", "unpaired": "completions marked desirable or not"}


def _methods_help(task: str) -> str:
    """`use `method dpo` (or orpo, simpo) for chosen/rejected pairs`: the catalogue's methods for a shape."""
    first, *others = methods_for(task)
    also = f" (or {', '.join(others)})" if others else ""
    return f"use `method {first}`{also} for {_ROWS[task]}"


def check_method_fit(ctx: Context, plan: dict[str, Any], method: n.Decl | None, prompt: n.Decl | None) -> None:
    """Each method learns from one kind of prompt: SFT from targets, DPO from pairs, GRPO from rewards."""
    kind = (plan.get("method") or {}).get("kind")
    task = (plan.get("prompt") or {}).get("task")
    if method is None or prompt is None or kind is None or task is None:
        return
    if kind not in METHODS or task in METHODS[kind].shapes:
        return
    fits = METHODS[kind].shapes
    if "chat" not in fits:  # not a method that learns from targets
        message = f"method `{kind}` needs {_a(' or '.join(fits))} prompt, but the prompt is {_a(task)} prompt"
        help_ = f"the prompt needs {_HOW[fits[0]]}"
    else:
        message = f"method `{kind}` learns from targets, but the prompt is {_a(task)} prompt"
        help_ = _methods_help(task) if task in _ROWS else "add a `target` to learn, or use `method grpo` with rewards"
    ctx.report(
        error(
            "E0305",
            message,
            method.name_span,
            "this method",
            secondary=[Label(prompt.name_span, f"{_a(task)} prompt")],
            help=help_,
        )
    )


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def check_reward_fields(ctx: Context, plan: dict[str, Any], found: Peek | None, data: str) -> None:
    """The fields GRPO rewards compare with must be fields of the training data."""
    method = plan.get("method") or {}
    if method.get("kind") != "grpo" or found is None or not found.fields:
        return
    for index, reward in enumerate(method.get("rewards", [])):
        name = reward.get("field")
        if name and name not in found.fields:
            node = ctx.origins.get(("method", "rewards", index))
            value = node.value if isinstance(node, n.Statement) else None
            where = value.args[0].span if isinstance(value, n.Call) and value.args else ctx.origins[("method",)].span
            ctx.report(
                error(
                    "E0309",
                    f"`reward {reward['kind']}` uses `{name}`, which the data `{data}` does not have",
                    where,
                    "no such field",
                    help=did_you_mean(name, found.fields),
                    notes=[f"fields of `{data}`: {', '.join(found.fields)}"],
                )
            )


def measured(plan: dict[str, Any]) -> list[str]:
    """The metrics the eval measures by name (`loss` when there is no eval)."""
    return [m["name"] for m in (plan.get("eval") or {}).get("metrics", [{"name": "loss"}])]


def check_ranking_metric(ctx: Context, plan: dict[str, Any], name: str, span: Span, what: str) -> None:
    """What picks the best run or checkpoint by a metric needs it measured, and with a better direction."""
    metrics = measured(plan)
    if name not in metrics:
        ctx.report(
            error(
                "E0208",
                f"`{what}` names `{name}`, which the eval does not measure",
                span,
                "not measured",
                help=did_you_mean(name, metrics),
                notes=[f"measured: {', '.join(metrics)}"],
            )
        )
    elif metrics.count(name) > 1:  # `contains("a")` and `contains("b")`: which one is meant
        ctx.report(
            error(
                "E0208",
                f"`{what}` names `{name}`, which the eval measures {metrics.count(name)} times",
                span,
                "measured more than once",
                help=f"keep one `{name}(…)` in `metrics`, or use another metric",
            )
        )
    elif not METRICS[name].rankable:
        ctx.report(unranked(name, span, f"`{what}`"))


def unranked(name: str, span: Span, what: str) -> Diagnostic:
    """A metric with no better direction (`length`) where one is needed."""
    return error(
        "E0220",
        f"`{name}` has no better or worse: {what} needs a metric with a better direction",
        span,
        "reported, never ranked",
        help="use `loss`, or another metric that is better when higher or lower",
    )


def check_rank_by(ctx: Context, plan: dict[str, Any], sweep: n.Decl | None) -> None:
    """A sweep ranks its runs by `rank_by`: a measured metric with a better direction."""
    for entry in sweep.body.entries if sweep is not None and sweep.body else ():
        if isinstance(entry, n.Field) and entry.key.dotted == "rank_by" and isinstance(entry.value, n.Name):
            check_ranking_metric(ctx, plan, entry.value.dotted, entry.value.span, "rank_by")


def check_train_choices(ctx: Context, plan: dict[str, Any]) -> None:
    """`keep_best` names a measured metric with a better direction; `patience` needs evaluations to count."""
    train = plan.get("train") or {}
    best = train.get("keep_best")
    if isinstance(best, str):
        node = ctx.origins[("train", "keep_best")]
        check_ranking_metric(ctx, plan, best, node.value.span if isinstance(node, n.Field) else node.span, "keep_best")
    if train.get("patience") and not train.get("eval_every"):
        node = ctx.origins[("train", "patience")]
        ctx.report(
            error(
                "E0106",
                "`patience` counts evaluations, but `train` has no `eval_every`",
                node.span,
                "never evaluated during training",
                help="add `eval_every = <steps>`",
            )
        )


def check_generation_room(ctx: Context, plan: dict[str, Any]) -> None:
    """GRPO samples `max_new_tokens` after the prompt within `train.max_len`: with no room left
    for a prompt, every row fails after the model loads."""
    method, train = plan.get("method") or {}, plan.get("train") or {}
    if method.get("kind") != "grpo":
        return
    new = method.get("max_new_tokens", default_of("GrpoMethod", "max_new_tokens"))
    max_len = train.get("max_len", default_of("TrainPlan", "max_len"))
    if not (isinstance(new, int) and isinstance(max_len, int)) or new < max_len:
        return
    node = ctx.origins.get(("method", "max_new_tokens")) or ctx.origins.get(("method",))
    if node is None:
        return
    span = node.value.span if isinstance(node, n.Field) else node.span
    where = ctx.origins.get(("train", "max_len"))
    ctx.report(
        error(
            "E0605",
            f"`max_new_tokens = {new}` leaves GRPO no room for the prompt in `max_len = {max_len}`",
            span,
            "as long as the whole sequence",
            secondary=[Label(where.value.span, "the whole sequence")] if isinstance(where, n.Field) else [],
            help=f"lower `max_new_tokens` below {max_len}, or raise `train.max_len` above {new} plus the prompt",
        )
    )


def check_processes(ctx: Context, plan: dict[str, Any]) -> None:
    """With several processes, the global batch must split across them (and their micro-batches)."""
    compute, train = plan.get("compute") or {}, plan.get("train") or {}
    processes = compute.get("processes", default_of("ComputePlan", "processes"))
    batch, micro = train.get("batch", default_of("TrainPlan", "batch")), train.get("micro_batch")
    if not (isinstance(processes, int) and processes > 1 and isinstance(batch, int)):
        return
    where = ctx.origins.get(("compute", "processes"))
    span = where.value.span if isinstance(where, n.Field) else ctx.origins[("compute",)].span
    step = processes * (micro if isinstance(micro, int) else 1)
    if batch % step:
        share = f"micro_batch × processes = {step}" if isinstance(micro, int) else f"the {processes} processes"
        ctx.report(
            error(
                "E0205",
                f"`batch` ({batch}) does not split across {share}",
                span,
                f"{processes} processes",
                help="`batch` is the global batch: make it a multiple",
            )
        )
