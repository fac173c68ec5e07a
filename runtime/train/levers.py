"""The speed and memory levers of a plan, resolved for the device and applied to the model.

`resolve` runs before the model loads: it turns `auto` into what this device runs, and stops
with a located RunError when the device or the installed packages cannot do what the plan asks
(the same combinations `ft check` catches when the recipe says `device = cpu`). `load_kwargs`
gives from_pretrained its dtype, attention kernel and quantization; `prepare` switches on
gradient checkpointing, Liger's kernels and per-layer compilation once the model is loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from ftlang.plan.catalogue import LEVERS, OPTIMIZERS
from ftlang.plan.models import FullMethod, LoraMethod, Plan
from ftlang.runtime.data.document_mask import FLASH, FLEX
from ftlang.runtime.errors import RunError
from ftlang.runtime.train import precision as precisions
from ftlang.runtime.train.precision import Precision

_KERNELS = {"sdpa": "sdpa", "eager": "eager", "flex": FLEX, "flash": FLASH}


@dataclass(frozen=True)
class Levers:
    """What a run does on its device, every `auto` resolved; recorded in lock.json and the report."""

    precision: Precision
    attention: str  # transformers' attn_implementation
    quantize: str | None
    gradient_checkpointing: bool
    compile: bool
    kernels: str
    offload: bool
    optimizer: str
    device: torch.device

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.precision.as_dict(),
            "attention": self.attention,
            "quantize": self.quantize,
            "gradient_checkpointing": self.gradient_checkpointing,
            "compile": self.compile,
            "kernels": self.kernels,
            "offload": self.offload,
            "optimizer": self.optimizer,
        }


def trains_base(plan: Plan) -> bool:
    """Whether the base's own weights get gradients (no adapters)."""
    method = plan.method
    if isinstance(method, FullMethod | LoraMethod):
        return isinstance(method, FullMethod)
    return getattr(method, "adapter", None) is None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _need(ok: bool, message: str, location: str, help: str) -> None:
    if not ok:
        raise RunError(message, location=location, help=help)


def _attention(plan: Plan, device: torch.device) -> str:
    wanted = plan.compute.attention
    cuda = device.type == "cuda"
    if wanted == "auto":
        if cuda and _installed(LEVERS["flash"].module):
            return FLASH
        # On a GPU packed rows take FlexAttention's block mask; on a CPU (where FlexAttention
        # has no backward) sdpa with the dense document mask.
        return FLEX if cuda and plan.train.pack else "sdpa"
    if wanted == "flex":
        # torch's FlexAttention has a backward pass on GPUs only.
        _need(
            cuda,
            "`attention = flex` needs a CUDA GPU to train, and this run is on the CPU",
            "compute.attention",
            "use `attention = sdpa` (a dense document mask) on a CPU",
        )
    if wanted == "flash":
        _need(
            cuda,
            "`attention = flash` needs a CUDA GPU, and this run is on the CPU",
            "compute.attention",
            "use `attention = sdpa` on a CPU",
        )
        _need(
            _installed(LEVERS["flash"].module),
            "`attention = flash` needs flash-attn, which is not installed",
            "compute.attention",
            "pip install 'ftlang[flash]'",
        )
    return _KERNELS[wanted]


def _check_device(plan: Plan, device: torch.device) -> None:
    cuda = device.type == "cuda"
    compute, model = plan.compute, plan.model
    spec = OPTIMIZERS[plan.train.optimizer.kind]
    for module in spec.requires:
        _need(
            _installed(module),
            f"the optimizer `{spec.name}` needs {module}, which is not installed",
            "train.optimizer",
            "pip install 'ftlang[gpu]'",
        )
    _need(
        cuda or not spec.cuda,
        f"the optimizer `{spec.name}` needs a CUDA GPU, and this run is on the CPU",
        "train.optimizer",
        "use `adamw_8bit` or `adamw` on a CPU",
    )
    if model.quantize:
        _need(
            _installed(LEVERS["quantize"].module),
            "`quantize` needs bitsandbytes, which is not installed",
            f"model `{model.name}`",
            "pip install 'ftlang[gpu]'",
        )
    if compute.kernels == "liger":
        _need(
            cuda,
            "`kernels = liger` needs a CUDA GPU (Triton), and this run is on the CPU",
            "compute.kernels",
            "drop `kernels` on a CPU",
        )
        _need(
            _installed(LEVERS["liger"].module),
            "`kernels = liger` needs liger-kernel, which is not installed",
            "compute.kernels",
            "pip install 'ftlang[gpu]'",
        )
    _need(
        cuda or not compute.offload,
        "`offload = true` needs CUDA GPUs, and this run is on the CPU",
        "compute.offload",
        "drop `offload` on a CPU: everything already is in CPU memory",
    )
    if compute.compile:
        found = _installed("triton") if cuda else bool(shutil.which("c++") or shutil.which("g++"))
        _need(
            found,
            f"`compile = true` needs {'Triton' if cuda else 'a C++ compiler'} on this machine",
            "compute.compile",
            "install it, or drop `compile`",
        )


def resolve(plan: Plan, device: torch.device) -> Levers:
    """The plan's levers on `device`; a RunError, before any model loads, for what cannot run here."""
    _check_device(plan, device)
    precision = precisions.resolve(plan.compute, plan.model, device, trains_base=trains_base(plan))
    return Levers(
        precision=precision,
        attention=_attention(plan, device),
        quantize=plan.model.quantize,
        gradient_checkpointing=plan.train.gradient_checkpointing,
        compile=plan.compute.compile,
        kernels=plan.compute.kernels,
        offload=plan.compute.offload,
        optimizer=plan.train.optimizer.kind,
        device=device,
    )


def load_kwargs(levers: Levers) -> dict[str, Any]:
    """from_pretrained's dtype, attention kernel and, for QLoRA, bitsandbytes' quantization."""
    kw: dict[str, Any] = {"dtype": levers.precision.weights, "attn_implementation": levers.attention}
    if levers.quantize:
        from transformers import BitsAndBytesConfig

        with warnings.catch_warnings():  # its CPU build warns at import that an optional package is missing
            warnings.simplefilter("ignore")
            importlib.import_module("bitsandbytes")

        compute = levers.precision.autocast_dtype or levers.precision.weights
        if levers.quantize == "nf4":
            config = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute,
            )
        else:
            config = BitsAndBytesConfig(load_in_8bit=True)
        kw.update(quantization_config=config, device_map={"": levers.device})
    return kw


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated blocks of a model: the classes transformers never splits across devices."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    return [m for m in model.modules() if type(m).__name__ in names]


def _release_checkpoint(model: torch.nn.Module) -> None:
    """Copies of the weights a quantized load left unquantized (embeddings, head, norms) on the CPU.

    They are zero-copy views of the memory-mapped checkpoint when their dtype matches the file's,
    and while one lives the whole file stays mapped: every page read while quantizing stays in
    the process's resident memory (on the 34 M bench model, 108 MB of a 136 MB float32 file
    beside 15 MB of nf4 weights). With copies the mapping closes. On a GPU they are on
    the device already.
    """
    from bitsandbytes.nn import Int8Params, Params4bit

    seen: set[int] = set()
    with torch.no_grad():
        for module in model.modules():
            for t in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
                if t.device.type == "cpu" and not isinstance(t, Params4bit | Int8Params) and id(t) not in seen:
                    seen.add(id(t))
                    t.data = t.data.clone()


def prepare(model: Any, levers: Levers) -> Any:
    """Levers that act on the loaded model, before adapters are added (they wrap what is here)."""
    checkpointing = {"use_reentrant": False}  # the reentrant form needs inputs that require grad
    if levers.quantize:
        from peft import prepare_model_for_kbit_training

        _release_checkpoint(model)
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=levers.gradient_checkpointing,
            gradient_checkpointing_kwargs=checkpointing,
        )
    elif levers.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
    if levers.kernels == "liger":
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=model)
    if levers.compile:
        # Regional compilation: each decoder layer is compiled once and reused by the others
        # (same code, same shapes), in a fraction of the time a whole-model graph takes.
        for layer in decoder_layers(model):
            layer.compile(dynamic=None)
    return model
