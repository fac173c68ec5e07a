"""Stop before loading a model that would not fit: plan/memory.py's estimate against the device."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.memory import Shape, describe, estimate, gigabytes, shape_of
from ftlang.plan.models import Plan, ScratchModel
from ftlang.runtime.errors import RunError


def device_memory(device: torch.device) -> int:
    """Bytes the device holds: the GPU's memory, or the machine's RAM for a CPU run."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def model_shape(plan: Plan) -> Shape | None:
    """The model's sizes from its config alone (no weights); None when the config is out of reach."""
    source = plan.model.source
    if isinstance(source, ScratchModel):
        return shape_of("llama", source.model_dump())
    from transformers import AutoConfig

    from ftlang.runtime.models import resolve_source

    found = resolve_source(plan.model, Path(plan.root))
    try:
        config: dict[str, Any] = AutoConfig.from_pretrained(
            found.ref, revision=found.revision, trust_remote_code=plan.model.trust_remote_code
        ).to_dict()
    except (OSError, ValueError):
        return None  # loading reports what is wrong with the model, located
    return shape_of(str(config.get("model_type", "")), config)


def check_fits(plan: Plan, device: torch.device, available: int | None = None) -> None:
    """A RunError when the estimate exceeds the device's memory, before the model loads."""
    shape = model_shape(plan)
    if shape is None:
        return
    kind = "cuda" if device.type == "cuda" else "cpu"
    need = estimate(plan, shape, kind)
    have = device_memory(device) if available is None else available
    if need.total <= have:
        return
    hints = []
    if not need.checkpointing:
        hints.append("`gradient_checkpointing = true`")
    hints.append("a smaller `micro_batch`")
    if plan.method.kind == "full":
        hints.append("`method lora`, or `quantize = nf4` with it (QLoRA)")
    hints.append("`strategy = fsdp` over more processes")
    raise RunError(
        f"this run needs {describe(need, kind)}, and the {kind.upper() if kind == 'cuda' else 'machine'} "
        f"has {gigabytes(have)}",
        location="train",
        help="try " + ", ".join(hints),
    )
