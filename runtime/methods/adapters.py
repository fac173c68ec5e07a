"""Methods: decide which weights train — all of them (full) or LoRA adapters via peft."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from ftlang.plan.catalogue import METHODS
from ftlang.plan.models import DpoMethod, FullMethod, GrpoMethod, LoraMethod, MethodPlan
from ftlang.runtime.errors import RunError
from ftlang.runtime.methods.rewards import Rewards
from ftlang.runtime.quiet import quiet_libraries

# LoRA targets when the recipe names none. Families not listed fall back to peft's own
# table (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "qwen3": ["q_proj", "v_proj"],
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
}


@dataclass(frozen=True)
class MethodInfo:
    kind: str
    trainable: int
    total: int
    targets: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "trainable": self.trainable, "total": self.total, "targets": list(self.targets)}


def _counts(model: torch.nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def linear_leaf_names(model: torch.nn.Module) -> list[str]:
    """Names a LoRA target can take: the last part of each Linear module's path."""
    return sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})


def check_method(method: MethodPlan, task: str) -> None:
    """Refuse, before any data or model loads, a method that cannot run with this prompt.

    The compiler says the same earlier (E0305), but a hand-written plan.json reaches the runtime unchecked."""
    shapes = METHODS[method.kind].shapes
    if task not in shapes:
        raise RunError(
            f"method {method.kind} cannot learn from a {task} prompt",
            help=f"it needs a {' or '.join(shapes)} prompt",
        )
    if isinstance(method, DpoMethod) and method.label_smoothing and method.loss != "sigmoid":
        raise RunError(
            f"label_smoothing applies to loss = sigmoid, not {method.loss}",
            location="method dpo",
            help="remove label_smoothing, or use loss = sigmoid",
        )
    if isinstance(method, GrpoMethod):
        Rewards(method.rewards)  # compiles the patterns and loads the plugins, or says why not


def apply_method(model: Any, method: MethodPlan, task: str) -> tuple[Any, MethodInfo]:
    """Return the model to train (maybe a PeftModel) and what trains."""
    if not isinstance(method, (FullMethod, LoraMethod)):
        # Preference tuning and RL train what their `adapter` says: LoRA, or every weight.
        model, info = apply_method(model, method.adapter or FullMethod(), task)
        return model, replace(info, kind=f"{method.kind}/{info.kind}")
    if isinstance(method, FullMethod):
        for p in model.parameters():
            p.requires_grad_(True)
        return model, MethodInfo("full", *_counts(model))
    assert isinstance(method, LoraMethod)
    from peft import LoraConfig, TaskType, get_peft_model

    family = model.config.model_type
    targets: list[str] | str | None = list(method.targets) or DEFAULT_TARGETS.get(family)
    if method.targets == "all_linear":
        targets = "all-linear"  # peft's name: every linear layer but the output head
    leaves = linear_leaf_names(model)
    if isinstance(method.targets, list) and method.targets:
        unknown = [
            t
            for t in method.targets
            if t not in leaves and not any(n.endswith("." + t) for n, _ in model.named_modules())
        ]
        if unknown:
            raise RunError(
                f"LoRA target `{unknown[0]}` is not a module of this {family} model",
                help=f"its linear layers are: {', '.join(leaves)}",
            )
    # For classification, SEQ_CLS makes peft train and save the new head (modules_to_save).
    missing = [m for m in method.also_train if not any(n.rsplit(".", 1)[-1] == m for n, _ in model.named_modules())]
    if missing:
        raise RunError(
            f"`also_train` names `{missing[0]}`, which is not a module of this {family} model",
            help="name modules such as embed_tokens or lm_head",
        )
    cfg = LoraConfig(
        r=method.rank,
        lora_alpha=method.alpha,
        lora_dropout=method.dropout,
        target_modules=targets,
        modules_to_save=list(method.also_train) or None,
        use_dora=method.dora,
        use_rslora=method.rslora,
        init_lora_weights=True if method.init == "default" else method.init,
        task_type=TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM,
    )
    try:
        with quiet_libraries():
            peft_model = get_peft_model(model, cfg)
    except ValueError as e:  # peft: "Target modules ... not found in the base model"
        raise RunError(
            f"LoRA cannot attach to this {family} model: {e}", help=f"name targets among: {', '.join(leaves)}"
        ) from None
    resolved = peft_model.peft_config["default"].target_modules
    # all_linear resolves to full module paths: the report names the layers once, like a target list.
    adapted = {name.rsplit(".", 1)[-1] for name in resolved or ()}
    return peft_model, MethodInfo("lora", *_counts(peft_model), tuple(sorted(adapted)))
