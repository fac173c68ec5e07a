"""The ftlang runtime: executes a Plan (never the syntax tree) and writes a run directory."""

from __future__ import annotations

import logging
from typing import Any

from ftlang.runtime.errors import RunError

# bitsandbytes' CPU backend warns, as peft imports it, that an optional faster kernel package is
# missing; QLoRA runs without it, so on every run that line would only be noise.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

__all__ = ["RunError", "RunResult", "evaluate_loss", "run_plan"]


def __getattr__(name: str) -> Any:
    # torch and transformers load only when a run needs them: importing RunError stays cheap.
    if name in ("run_plan", "RunResult"):
        from . import run

        return getattr(run, name)
    if name == "evaluate_loss":
        from ftlang.runtime.train.loop import evaluate_loss

        return evaluate_loss
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
