"""Checks of LoRA's peft options against the method and the model: what `init` needs."""

from __future__ import annotations

from typing import Any

from ftlang.plan.catalogue import METHODS

from . import nodes as n
from .context import Context
from .diagnostics import Label, error

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
    if quantize:
        ctx.report(
            error(
                "E0340",
                f"`init = {init}` needs the base's weights in full precision, but the model is quantized to {quantize}",
                span,
                f"{init} decomposes the base's weights",
                secondary=_label(ctx, ("model", "quantize"), "quantized here"),
                help="use `init = default` or `gaussian` with a quantized base, or drop `quantize`",
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


def _value_span(ctx: Context, loc: tuple[str, ...]) -> Any:
    node = ctx.origins.get(loc) or ctx.origins[("method",)]
    return node.value.span if isinstance(node, n.Field | n.Keyword) else node.span


def _label(ctx: Context, loc: tuple[str, ...], text: str) -> list[Label]:
    node = ctx.origins.get(loc)
    if node is None:
        return []
    return [Label(node.name_span if isinstance(node, n.Decl) else node.span, text)]
