"""Optimizers of the catalogue, built from the libraries that implement them (none written here)."""

from __future__ import annotations

import importlib
from typing import Any

import torch

from ftlang.plan.catalogue import OPTIMIZERS
from ftlang.plan.models import Optimizer
from ftlang.runtime.errors import RunError
from ftlang.runtime.train.master_weights import MasterWeights


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The class behind a catalogue entry, or a RunError naming the extra that installs it."""
    spec = OPTIMIZERS[name]
    module, cls = spec.implementation.split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError:
        raise RunError(
            f"the optimizer `{name}` needs {', '.join(spec.requires) or module}, which is not installed",
            location="train.optimizer",
            help="pip install 'ftlang[gpu]'",
        ) from None


def settings(opt: Optimizer) -> dict[str, Any]:
    """Keyword arguments for the implementation: the Plan's settings in each library's names."""
    spec = OPTIMIZERS[opt.kind]
    kw: dict[str, Any] = {}
    if "betas" in spec.settings:
        kw["betas"] = tuple(opt.betas)
    if "eps" in spec.settings:
        # Adafactor has two: the floor of the squared gradient (ours) and of the update scale.
        kw["eps"] = (opt.eps, 1e-3) if opt.kind == "adafactor" else opt.eps
    if "momentum" in spec.settings:
        kw["momentum"] = opt.momentum
    if opt.kind == "adafactor":
        # The recipe's lr and schedule drive the step, not Adafactor's own relative step size.
        kw.update(scale_parameter=False, relative_step=False, warmup_init=False)
    return kw


def build(groups: list[dict[str, Any]], lr: float, opt: Optimizer, *, fused: bool) -> torch.optim.Optimizer:
    """The optimizer over parameter groups (each with its own weight decay)."""
    cls = optimizer_class(opt.kind)
    kw = settings(opt)
    if opt.kind == "adamw":
        # The fused kernel updates every tensor in one pass: on CPU the step took a third of
        # the per-tensor loop's time.
        kw["fused"] = fused or None
    return cls(groups, lr=lr, **kw)


def make_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    spec: Optimizer | None = None,
    masters: MasterWeights | None = None,
) -> torch.optim.Optimizer:
    """The plan's optimizer over trainable parameters; biases and norm weights (1-D) get no decay.

    With `masters`, it steps their float32 copies of the half-precision weights."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    if masters is not None:
        decay, no_decay = masters.stepped(decay), masters.stepped(no_decay)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # A fused kernel needs plain float tensors on CPU or CUDA (not FSDP's DTensors).
    params = decay + no_decay
    fused = bool(params) and all(
        type(p.data) is torch.Tensor and p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params
    )
    optimizer = build([g for g in groups if g["params"]], lr, spec or Optimizer(), fused=fused)
    if masters is not None:
        masters.attach(optimizer)
    return optimizer
