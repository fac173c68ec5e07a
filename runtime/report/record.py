"""The report as a record: what the command line changed, the settings a reviewer asks about,
the recipe text as it ran, and whether a rerun gives the same bits.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ftlang.plan.models import LoraMethod, Plan
from ftlang.runtime.pins import bit_reproducible
from ftlang.runtime.redact import redact_param

RECIPE_DIR = "recipe"  # the run directory's copy of the recipe and its imports, as they ran


def keep_recipe(plan: Plan, run_dir: Path) -> None:
    """Copy the recipe and every imported file into the run directory, so the report quotes what ran."""
    root = Path(plan.root)
    for source in plan.sources:
        original = root / source.path
        if original.is_file():
            copy = run_dir / RECIPE_DIR / source.path
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(original, copy)


def recipe_text(plan: Plan, run_dir: Path) -> str | None:
    """The recipe file as it ran (its first source), or None for a run made from a plan alone."""
    if not plan.sources:
        return None
    path = run_dir / RECIPE_DIR / plan.sources[0].path
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def overrides_fact(plan: Plan) -> tuple[str, str] | None:
    """`--set` values, each beside what the recipe said, so "8 epochs" never goes unexplained."""
    if not plan.overrides:
        return None
    parts = []
    for o in plan.overrides:
        said = (
            f" (the recipe says {redact_param(o.name, o.recipe)})" if o.recipe is not None else " (not in the recipe)"
        )
        parts.append(f"{o.name} = {redact_param(o.name, o.value)}{said}")
    return ("set on the command line", " · ".join(parts))


def settings_fact(plan: Plan) -> tuple[str, str]:
    """The values a reviewer asks for first and the other lines do not show."""
    tp = plan.train
    parts = [f"max_len {tp.max_len}", f"weight decay {tp.weight_decay:g}"]
    parts.append(f"grad clip {tp.grad_clip:g}" if tp.grad_clip is not None else "no grad clip")
    lora = plan.method if isinstance(plan.method, LoraMethod) else getattr(plan.method, "adapter", None)
    if isinstance(lora, LoraMethod):
        parts.append(f"LoRA rank {lora.rank}, alpha {lora.alpha:g}, dropout {lora.dropout:g}")
    parts.append("packed" if tp.pack else "not packed")
    return ("settings", " · ".join(parts))


def reproducibility_fact(lock: dict[str, Any]) -> tuple[str, str]:
    """Which kind of run this was, and the command that checks it."""
    if bit_reproducible(lock):
        where = "CPU" if lock.get("device", {}).get("type") == "cpu" else "GPU with deterministic kernels"
        return ("reproducible", f"bit for bit ({where}); check with `ft reproduce` on this run directory")
    return (
        "reproducible",
        "in distribution only (GPU kernels without determinism; set `compute { deterministic = true }` "
        "for bit-identical reruns); rerun with `ft run` on this run directory's plan.json",
    )
