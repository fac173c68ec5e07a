"""Numeric precision of a run: `compute.precision` and the model's `dtype`, resolved for the device.

`auto` means: bf16 autocast over bf16 weights on a GPU that supports bf16 (fp16 autocast with a
gradient scaler on one that does not), fp32 on a CPU, where autocast is slower and would break
bit-identical reruns. TensorFloat-32 matrix products are on by default on GPUs that have them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from ftlang.plan.models import ComputePlan, ModelPlan
from ftlang.runtime.errors import RunError

_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """What a run computes in: the autocast dtype (None: none), the weights' dtype, tf32."""

    compute: str  # "fp32", "bf16" or "fp16", resolved
    weights: torch.dtype
    tf32: bool
    device_type: str

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return _AUTOCAST.get(self.compute)

    def autocast(self) -> contextlib.AbstractContextManager:
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=dtype)

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
    if precision == "bf16" and not bf16_supported(device):
        raise RunError(
            f"`precision = bf16` needs a GPU with bfloat16, and {torch.cuda.get_device_name(device)} has none",
            location="compute.precision",
            help="use `precision = fp16` (or `auto`) on this GPU",
        )
    dtype = model.dtype
    if dtype == "auto":
        # Half-precision weights on a GPU only; fp16 training keeps trained weights in float32.
        half = {"bf16": "bfloat16", "fp16": "float32" if trains_base else "float16"}
        dtype = half.get(precision, "float32") if cuda else "float32"
    tf32 = compute.tf32 and cuda and torch.cuda.get_device_capability(device)[0] >= 8
    return Precision(precision, _DTYPES[dtype], tf32, device.type)


def apply_tf32(precision: Precision) -> None:
    """TensorFloat-32 for float32 matrix products and convolutions (Ampere and newer)."""
    if precision.device_type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision.tf32
        torch.backends.cudnn.allow_tf32 = precision.tf32
