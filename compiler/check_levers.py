"""Checks of the speed and memory levers: combinations that cannot run, and extras not installed.

Read from the recipe and the Python environment only (`importlib.util.find_spec`, which finds a
package without importing it), so `ft check` stays instant. What depends on the machine a run
lands on (is there a GPU, how much memory) is checked again when the run starts, before the
model loads (runtime/train/levers.py).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ftlang.plan.catalogue import LEVERS, OPTIMIZERS

from . import nodes as n
from .context import Context, Loc
from .diagnostics import Label, error
from .environment import missing_package
from .source import Span

_ADAPTER_METHODS = ("lora",)


def _span(ctx: Context, loc: Loc) -> Span | None:
    node = ctx.origins.get(loc)
    if node is None:
        return None
    return node.value.span if isinstance(node, n.Field) else node.span


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def levers_used(plan: dict[str, Any]) -> list[tuple[Loc, str, str]]:
    """(where it is set, what it is, the catalogue lever or optimizer) for each lever needing more."""
    model, train, compute = plan.get("model") or {}, plan.get("train") or {}, plan.get("compute") or {}
    used: list[tuple[Loc, str, str]] = []
    if model.get("quantize"):
        used.append((("model", "quantize"), f"`quantize = {model['quantize']}`", "quantize"))
    optimizer = (train.get("optimizer") or {}).get("kind")
    if optimizer in OPTIMIZERS:
        used.append((("train", "optimizer"), f"the optimizer `{optimizer}`", optimizer))
    if compute.get("attention") == "flash":
        used.append((("compute", "attention"), "`attention = flash`", "flash"))
    if compute.get("kernels") == "liger":
        used.append((("compute", "kernels"), "`kernels = liger`", "liger"))
    return used


def _requirements(lever: str) -> tuple[tuple[str, ...], bool, str]:
    """(modules it imports, whether it needs CUDA, the extra that installs it)."""
    if lever in OPTIMIZERS:
        spec = OPTIMIZERS[lever]
        return spec.requires, spec.cuda, "gpu"
    found = LEVERS[lever]
    return (found.module,), found.cuda, found.extra


def check_levers(ctx: Context, plan: dict[str, Any]) -> None:
    """Every lever that needs a package finds it; none that needs CUDA runs on `device = cpu`."""
    compute = plan.get("compute") or {}
    on_cpu = compute.get("device") == "cpu"
    device_span = _span(ctx, ("compute", "device"))
    for loc, what, lever in levers_used(plan):
        span = _span(ctx, loc)
        if span is None:
            continue
        modules, cuda, extra = _requirements(lever)
        for module in modules:
            if not installed(module):
                ctx.report(
                    missing_package(
                        "E0501",
                        f"{what} needs the package `{module}`, which is not installed",
                        span,
                        f"needs `{module}`",
                        help=f"pip install 'ftlang[{extra}]'",
                    )
                )
        if cuda and on_cpu and device_span is not None:
            _needs_cuda(ctx, what, span, device_span)
    if on_cpu and device_span is not None:
        if compute.get("precision") == "fp16" and (span := _span(ctx, ("compute", "precision"))):
            _needs_cuda(ctx, "`precision = fp16`", span, device_span, "use bf16 or fp32 on a CPU")
        if compute.get("attention") == "flex" and (span := _span(ctx, ("compute", "attention"))):
            _needs_cuda(
                ctx,
                "`attention = flex`",
                span,
                device_span,
                "FlexAttention cannot train on a CPU (no backward there): use sdpa",
            )
        if compute.get("offload") is True and (span := _span(ctx, ("compute", "offload"))):
            _needs_cuda(ctx, "`offload = true`", span, device_span, "on a CPU everything already is in CPU memory")
    _check_quantize(ctx, plan)
    _check_offload(ctx, compute)
    _check_fp16_weights(ctx, plan)
    _check_master_weights(ctx, plan)


def _needs_cuda(ctx: Context, what: str, span: Span, device_span: Span, help: str | None = None) -> None:
    ctx.report(
        error(
            "E0502",
            f"{what} needs a CUDA GPU, and this recipe runs on the CPU",
            span,
            "runs on CUDA only",
            secondary=[Label(device_span, "the run is on the CPU")],
            help=help or "drop it, or set `device = cuda` (or `auto`) in `compute`",
        )
    )


def _check_quantize(ctx: Context, plan: dict[str, Any]) -> None:
    """A quantized base is frozen: only adapters can learn beside it (QLoRA)."""
    model, method = plan.get("model") or {}, plan.get("method") or {}
    quantize = model.get("quantize")
    span = _span(ctx, ("model", "quantize"))
    if not quantize or span is None or not isinstance(method, dict):
        return
    kind = method.get("kind")
    if kind not in _ADAPTER_METHODS and not method.get("adapter"):
        method_span = _span(ctx, ("method",))
        ctx.report(
            error(
                "E0500",
                f"a model quantized to {quantize} cannot be trained by `method {kind}` without adapters",
                span,
                "the base is frozen in low precision",
                secondary=[Label(method_span, "trains the base's own weights")] if method_span else [],
                help="use `method lora` (QLoRA), or give the method an `adapter = lora(…)`"
                if kind != "full"
                else "use `method lora` (QLoRA), or drop `quantize` to train every weight",
            )
        )
    compute = plan.get("compute") or {}
    if compute.get("strategy") == "fsdp" and (compute.get("processes") or 1) > 1:
        ctx.report(
            error(
                "E0505",
                "a quantized model cannot be sharded by FSDP here",
                span,
                "quantized base",
                secondary=[Label(s, "shards the model") for s in [_span(ctx, ("compute", "strategy"))] if s],
                help="use `strategy = ddp` with QLoRA: each process holds the small quantized base",
            )
        )


def _check_offload(ctx: Context, compute: dict[str, Any]) -> None:
    span = _span(ctx, ("compute", "offload"))
    if compute.get("offload") is not True or span is None:
        return
    if compute.get("strategy") != "fsdp" or (compute.get("processes") or 1) < 2:
        ctx.report(
            error(
                "E0503",
                "`offload` moves FSDP's shards to CPU memory, and this run is not sharded by FSDP",
                span,
                "needs `strategy = fsdp` over processes",
                help="set `strategy = fsdp` and `processes` to the number of GPUs",
            )
        )


def _check_fp16_weights(ctx: Context, plan: dict[str, Any]) -> None:
    """fp16 needs a gradient scaler, and it cannot unscale gradients of fp16 weights."""
    compute, model, method = plan.get("compute") or {}, plan.get("model") or {}, plan.get("method") or {}
    span, dtype_span = _span(ctx, ("compute", "precision")), _span(ctx, ("model", "dtype"))
    trains_base = isinstance(method, dict) and method.get("kind") == "full"
    if compute.get("precision") == "fp16" and model.get("dtype") == "float16" and trains_base and span and dtype_span:
        ctx.report(
            error(
                "E0504",
                "`precision = fp16` cannot train weights stored in float16",
                span,
                "scales fp16 gradients",
                secondary=[Label(dtype_span, "the weights are float16")],
                help="keep the weights in float32 (`dtype = float32`): autocast runs the matrix products in fp16",
            )
        )


def _check_master_weights(ctx: Context, plan: dict[str, Any]) -> None:
    """`bf16_master` holds the weights in bfloat16 beside float32 copies the optimizer steps."""
    compute, model = plan.get("compute") or {}, plan.get("model") or {}
    span = _span(ctx, ("compute", "precision"))
    if compute.get("precision") != "bf16_master" or span is None:
        return
    dtype, dtype_span = model.get("dtype"), _span(ctx, ("model", "dtype"))
    if dtype in ("float32", "float16") and dtype_span is not None:
        ctx.report(
            error(
                "E0506",
                f"`precision = bf16_master` keeps the weights in bfloat16, and the model's dtype is {dtype}",
                span,
                "bfloat16 weights, float32 master copies",
                secondary=[Label(dtype_span, f"the weights are {dtype}")],
                help="drop the model's `dtype` (or set it to bfloat16), or use `precision = bf16`",
            )
        )
    strategy_span = _span(ctx, ("compute", "strategy"))
    if compute.get("strategy") == "fsdp" and (compute.get("processes") or 1) > 1 and strategy_span is not None:
        ctx.report(
            error(
                "E0507",
                "`precision = bf16_master` cannot run under FSDP here",
                span,
                "master copies beside the weights",
                secondary=[Label(strategy_span, "shards the model")],
                help="use `precision = bf16` with the model's `dtype = float32`: FSDP's float32 shards are the "
                "master weights",
            )
        )
