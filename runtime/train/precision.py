"""Numeric precision of a run: `compute.precision` and the model's `dtype`, resolved for the device.

`auto` means: bf16 autocast over bf16 weights on a GPU that supports bf16 (fp16 autocast with a
gradient scaler on one that does not), fp32 on a CPU, where autocast is slower and would break
bit-identical reruns. `bf16_master` holds the weights in bfloat16 on any device, and the optimizer
steps float32 master copies of the trained ones (master_weights.py). TensorFloat-32 matrix
products are on by default on GPUs that have them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import torch

from ftlang.plan.memory import weights_dtype
from ftlang.plan.models import ComputePlan, ModelPlan
from ftlang.runtime.errors import RunError

_AUTOCAST = {"bf16": torch.bfloat16, "bf16_master": torch.bfloat16, "fp16": torch.float16}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Precision:
    """What a run computes in: the autocast dtype (None: none), the weights' dtype, tf32."""

    compute: str  # "fp32", "bf16", "bf16_master" or "fp16", resolved
    weights: torch.dtype
    tf32: bool
    device_type: str

    @property
    def master_weights(self) -> bool:
        """Whether the optimizer steps float32 copies of the half-precision weights it trains."""
        return self.compute == "bf16_master"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return _AUTOCAST.get(self.compute)

    def autocast(self) -> contextlib.AbstractContextManager:
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=dtype)

    def around(self, fn: Callable[P, R]) -> Callable[P, R]:
        """`fn`, run under this precision's autocast wherever it is called from."""

        def within(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.autocast():
                return fn(*args, **kwargs)

        return within

    def scaler(self) -> torch.amp.GradScaler | None:
        """fp16 underflows small gradients: the loss is scaled up, gradients scaled back before the step."""
        return torch.amp.GradScaler(self.device_type) if self.compute == "fp16" else None

    def as_dict(self) -> dict[str, str | bool]:
        """What lock.json and the report record."""
        return {"precision": self.compute, "dtype": str(self.weights).removeprefix("torch."), "tf32": self.tf32}


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"


def resolve(compute: ComputePlan, model: ModelPlan, device: torch.device, *, trains_base: bool) -> Precision:
    """The precision a plan runs in on `device`; a RunError when the device cannot do what it asks.

    `trains_base`: the base's own weights get gradients (full fine-tuning). fp16 training needs
    float32 weights under its gradient scaler; adapters (LoRA) are kept in float32 by peft.
    """
    cuda = device.type == "cuda"
    precision = compute.precision
    if precision == "auto":
        precision = ("bf16" if bf16_supported(device) else "fp16") if cuda else "fp32"
    if precision == "fp16" and not cuda:
        raise RunError(
            "`precision = fp16` needs a CUDA GPU, and this run is on the CPU",
            location="compute.precision",
            help="use `precision = bf16` or `fp32` on a CPU",
        )
    if precision in ("bf16", "bf16_master") and not bf16_supported(device):
        raise RunError(
            f"`precision = {precision}` needs a GPU with bfloat16, and {torch.cuda.get_device_name(device)} has none",
            location="compute.precision",
            help="use `precision = fp16` (or `auto`) on this GPU",
        )
    if precision == "bf16_master":
        _check_master_weights(compute, model)
    tf32 = compute.tf32 and cuda and torch.cuda.get_device_capability(device)[0] >= 8
    return Precision(precision, _DTYPES[weights_dtype(precision, model.dtype, cuda, trains_base)], tf32, device.type)


def _check_master_weights(compute: ComputePlan, model: ModelPlan) -> None:
    """What `ft check` reports as E0506 and E0507, for a plan that did not come through it."""
    if model.dtype not in ("auto", "bfloat16"):
        raise RunError(
            f"`precision = bf16_master` keeps the weights in bfloat16, and the model's dtype is {model.dtype}",
            location="compute.precision",
            help="drop the model's `dtype` (or set it to bfloat16), or use `precision = bf16`",
        )
    if compute.strategy == "fsdp" and compute.processes > 1:
        raise RunError(
            "`precision = bf16_master` cannot run under FSDP here",
            location="compute.precision",
            help="use `precision = bf16` with the model's `dtype = float32`: FSDP's float32 shards are the master weights",
        )


def apply_tf32(precision: Precision) -> None:
    """TensorFloat-32 for float32 matrix products and convolutions (Ampere and newer)."""
    if precision.device_type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision.tf32
        torch.backends.cudnn.allow_tf32 = precision.tf32
