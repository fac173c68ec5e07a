"""summary.json: what a finished run trained on and reached, and the line `ft run` ends with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftlang.runtime.train.loop import LoopConfig, LoopState


def training_summary(state: LoopState, cfg: LoopConfig) -> dict[str, Any]:
    """Steps, epochs, tokens and speed of the loop as it ended."""
    return {
        "final_loss": state.last_loss,
        "steps": state.step,
        "total_steps": cfg.total_steps,
        "epochs": round(state.step / cfg.steps_per_epoch, 4),
        "tokens": state.tokens,
        "elapsed": round(state.elapsed, 3),
        "tok_s": round(state.tokens / max(state.elapsed, 1e-9), 1),
        "padding": round(1 - state.tokens / max(1, state.positions), 4),
    }


def eval_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The last evaluation, and the base model's (step 0) when it was measured."""
    evals = [r for r in records if "eval_examples" in r]
    out: dict[str, Any] = {}
    if evals:
        out.update({k: v for k, v in evals[-1].items() if k.startswith("eval_")})
        if evals[0]["step"] == 0 and len(evals) > 1:
            out.update({"base_" + k: v for k, v in evals[0].items() if k.startswith("eval_")})
    return out


def final_line(recipe: str, s: dict[str, Any], run_dir: Path) -> str:
    parts = [f"{recipe}: {s['steps']} steps in {s['elapsed']:.1f}s", f"loss {s['final_loss']:.4f}"]
    if "eval_loss" in s:
        parts.append(f"eval_loss {s['eval_loss']:.4f}")
    if "eval_accuracy" in s:
        base = f" (base {s['base_eval_accuracy']:.3f})" if "base_eval_accuracy" in s else ""
        parts.append(f"eval_accuracy {s['eval_accuracy']:.3f}{base}")
    return ", ".join(parts) + f" -> {run_dir}"
