"""Checks of LoRA's peft options against the method and the model: what `init` and `targets` need."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import METHODS

from . import nodes as n
from .context import Context
from .diagnostics import Label, error
from .modelpeek import ModelFacts, model_facts

# Initialisations that split the base's weights into the adapter and a residual the base keeps.
_DECOMPOSING = ("pissa", "olora")


def adapter_of(method: Any) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """The LoRA settings of a method (itself for `lora`, else its `adapter`) and where they were written."""
    if not isinstance(method, dict):
        return None, ()
    if method.get("kind") == "lora":
        return method, ("method",)
    adapter = method.get("adapter")
    return (adapter, ("method", "adapter")) if isinstance(adapter, dict) else (None, ())


def check_adapter_init(ctx: Context, plan: dict[str, Any]) -> None:
    """PiSSA and OLoRA rewrite the base's weights: they need them in full precision, and a method
    whose reference is "the adapters switched off" would no longer get the base."""
    method = plan.get("method")
    adapter, where = adapter_of(method)
    init = adapter.get("init") if adapter else None
    if init not in _DECOMPOSING:
        return
    span = _value_span(ctx, (*where, "init"))
    quantize = (plan.get("model") or {}).get("quantize")
    # peft's OLoRA dequantizes a bitsandbytes weight, decomposes it and quantizes the residual
    # again; its PiSSA refuses any weight that is not float32, float16 or bfloat16.
    if quantize and init == "pissa":
        ctx.report(
            error(
                "E0340",
                f"`init = {init}` needs the base's weights in full precision, but the model is quantized to {quantize}",
                span,
                f"{init} decomposes the base's weights",
                secondary=_label(ctx, ("model", "quantize"), "quantized here"),
                help="use `init = olora`, `gaussian` or `default` with a quantized base, or drop `quantize`",
            )
        )
    assert isinstance(method, dict)
    kind = method.get("kind", "")
    spec = METHODS.get(kind)
    keeps_reference = spec is not None and not spec.reference_free and not (kind == "grpo" and method.get("beta") == 0)
    if keeps_reference:
        ctx.report(
            error(
                "E0341",
                f"`method {kind}` takes its reference from the adapters switched off, which `init = {init}` breaks",
                span,
                f"{init} moves part of the base into the adapter",
                secondary=_label(ctx, ("method",), f"`{kind}` compares with the base"),
                help="use `init = default` or `gaussian` in the adapter of a method with a reference",
            )
        )


def check_adapter_model(ctx: Context, plan: dict[str, Any]) -> None:
    """What peft refuses only once the model is loaded, read from the model's config (E0312 checks
    the named targets): all_linear with nothing to adapt, OLoRA on GPT-2's Conv1D layers."""
    adapter, where = adapter_of(plan.get("method"))
    model = plan.get("model")
    if adapter is None or not isinstance(model, dict) or not isinstance(model.get("source"), dict):
        return
    facts = model_facts(model["source"], ctx.root)
    if facts is None:
        return
    if adapter.get("targets") == "all_linear" and facts.only_linear_is_the_head:
        _no_linear_layer(ctx, facts, where)
    if adapter.get("init") == "olora" and facts.conv1d_layers:
        ctx.report(
            error(
                "E0314",
                f"`init = olora` does not fit the Conv1D layers of a {facts.model_type} model",
                _value_span(ctx, (*where, "init")),
                "olora reads each weight as out × in",
                secondary=_label(ctx, ("model",), f"a {facts.model_type} model"),
                notes=[
                    f"{facts.model_type} layers are transformers' Conv1D, whose weight is stored in × out; peft's "
                    f"OLoRA decomposes it without turning it, and the first forward pass fails on the shapes "
                    f"(read from {facts.where})"
                ],
                help="use `init = pissa`, `gaussian` or `default` with this model",
            )
        )


_OVERLAP_NOTE = "peft trains a module of `also_train` whole and puts no adapter on it"
_NOTHING_LEFT_NOTE = (
    "every target is in `also_train`: peft finds no module to adapt and stops once the model has loaded"
)


def check_adapter_overlap(ctx: Context, plan: dict[str, Any]) -> None:
    """A module named in both `targets` and `also_train`: peft trains it whole and gives it no adapter
    (and, when every target is such a module, finds none to adapt and stops once the model has loaded)."""
    adapter, where = adapter_of(plan.get("method"))
    targets, whole = (adapter.get("targets"), adapter.get("also_train")) if adapter else (None, None)
    if not isinstance(targets, list) or not isinstance(whole, list):
        return
    named = [t for t in targets if isinstance(t, str)]
    note = _NOTHING_LEFT_NOTE if set(named) <= {w for w in whole if isinstance(w, str)} else _OVERLAP_NOTE
    for index, name in enumerate(whole):
        if name not in named:
            continue
        ctx.report(
            error(
                "E0315",
                f"`{name}` is both a LoRA target and trained whole",
                _item_span(ctx, (*where, "also_train"), index),
                "trained whole here",
                secondary=[Label(_item_span(ctx, (*where, "targets"), targets.index(name)), "adapted here")],
                notes=[note],
                help=f"keep `{name}` in one list: `targets` to adapt it, `also_train` to train all its weights",
            )
        )


def _items(ctx: Context, loc: tuple[str, ...]) -> tuple[Any, ...]:
    entry = ctx.origins.get(loc)  # a field's node, or the list itself for a call's argument
    value = entry.value if isinstance(entry, n.Field | n.Keyword) else entry
    return value.items if isinstance(value, n.ListExpr) else ()


def _item_span(ctx: Context, loc: tuple[str, ...], index: int) -> Any:
    items = _items(ctx, loc)
    return items[index].span if index < len(items) else _value_span(ctx, loc)


def _no_linear_layer(ctx: Context, facts: ModelFacts, where: tuple[str, ...]) -> None:
    key, _ = facts.layers or ("layers", 0)
    ctx.report(
        error(
            "E0313",
            f"`targets = all_linear` finds no layer to adapt in this {facts.model_type} model",
            _value_span(ctx, (*where, "targets")),
            "every linear layer but the output head",
            secondary=_label(ctx, ("model",), "a model with no blocks"),
            notes=[
                f"{facts.where} sets {key} = 0: the output head is the model's only linear layer, and "
                "peft never adapts the head"
            ],
            help="give the model layers, or train it with `method full`",
        )
    )


def _value_span(ctx: Context, loc: tuple[str, ...]) -> Any:
    node = ctx.origins.get(loc) or ctx.origins[("method",)]
    return node.value.span if isinstance(node, n.Field | n.Keyword) else node.span


def _label(ctx: Context, loc: tuple[str, ...], text: str) -> list[Label]:
    node = ctx.origins.get(loc)
    if node is None:
        return []
    return [Label(node.name_span if isinstance(node, n.Decl) else node.span, text)]
