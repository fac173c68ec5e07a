"""The model card (README.md) of an exported model, written from its run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftlang.plan.catalogue import METHODS
from ftlang.plan.models import HfModel, Plan
from ftlang.runtime import rundir
from ftlang.runtime.evaluation.outcome import read_outcome

_HOW_TO_LOAD = {
    "adapter": (
        "```python\nfrom peft import PeftModel\nfrom transformers import {auto}\n\n"
        'base = {auto}.from_pretrained("{base}")\nmodel = PeftModel.from_pretrained(base, "THIS_FOLDER")\n```'
    ),
    "merged": '```python\nfrom transformers import {auto}\n\nmodel = {auto}.from_pretrained("THIS_FOLDER")\n```',
}
_HOW_TO_LOAD["full"] = _HOW_TO_LOAD["merged"]


def _auto_class(plan: Plan) -> str:
    """The transformers class the folder loads with: a classifier (or reward model) has a head of its own."""
    classifier = plan.prompt.task == "classification" or METHODS[plan.method.kind].model_kind == "classifier"
    return "AutoModelForSequenceClassification" if classifier else "AutoModelForCausalLM"


def model_card(run_dir: Path, plan: Plan, kind: str, base: str) -> str:
    """Recipe, base and its hash, data hashes, metrics base → tuned, gates, and the recipe's text."""
    lock = rundir.read_lock(run_dir) or {}
    lines = [
        "---",
        "library_name: " + ("peft" if kind == "adapter" else "transformers"),
        *([f"base_model: {plan.model.source.id}"] if isinstance(plan.model.source, HfModel) else []),
        "tags: [ftlang]",
        "---",
        "",
        f"# {plan.recipe}",
        "",
        *([plan.description, ""] if plan.description else []),
        f"Tuned by ftlang with `method {plan.method.kind}`, exported as {_KIND[kind]}.",
        "",
        "## Base model",
        "",
        f"- `{base}`",
        *[f"- {key}: `{value}`" for key, value in _model_pins(lock.get("model", {}))],
        "",
        "## Data",
        "",
        *[f"- `{d['name']}`: " + ", ".join(_file_pin(f) for f in d.get("files", [])) for d in lock.get("data", [])],
        "",
        *_metrics(run_dir),
        "## How to load",
        "",
        _HOW_TO_LOAD[kind].replace("{base}", base).replace("{auto}", _auto_class(plan)),
        "",
        "## Recipe",
        "",
        *_recipe_text(plan),
    ]
    return "\n".join(lines).rstrip() + "\n"


_KIND = {
    "adapter": "a LoRA adapter (load it over its base with peft)",
    "merged": "the base with the adapter merged in (plain transformers)",
    "full": "the whole tuned model (plain transformers)",
}


def _model_pins(model: dict[str, Any]) -> list[tuple[str, Any]]:
    pins = [(key, model[key]) for key in ("kind", "id", "revision", "commit", "model_type") if model.get(key)]
    pins += [(f"sha256 of {name}", digest) for name, digest in sorted((model.get("weights_sha256") or {}).items())]
    return pins


def _file_pin(entry: dict[str, Any]) -> str:
    digest = entry.get("sha256") or entry.get("commit") or "?"
    return f"`{entry.get('path', entry.get('id', '?'))}` sha256 `{digest}`"


def _metrics(run_dir: Path) -> list[str]:
    outcome = read_outcome(run_dir)
    if outcome is None:
        summary = json.loads((run_dir / rundir.SUMMARY).read_text(encoding="utf-8"))
        return ["## Training", "", f"- final loss {summary.get('final_loss')} after {summary.get('steps')} steps", ""]
    rows = ["| metric | base | tuned |", "|---|---|---|"]
    for key in outcome.keys:
        base = outcome.base.get(key) if outcome.base else None
        tuned = outcome.tuned.get(key)
        rows.append(f"| {key} | {_number(base)} | {_number(tuned)} |")
    gates = [
        f"- {'PASS' if g.passed else 'FAIL'} `require {g.gate}` (measured {_number(g.measured)})"
        for g in outcome.verdict.gates
    ]
    gates += [
        f"- {'PASS' if g.passed else 'FAIL'} guard `{g.name}`: {g.metric} {_number(g.base)} → {_number(g.tuned)}"
        for g in outcome.verdict.guards
    ]
    return [f"## Evaluation on `{outcome.on}`", "", *rows, "", "## Gates", "", *(gates or ["- none"]), ""]


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _recipe_text(plan: Plan) -> list[str]:
    """Each recipe file the plan read, as it reads at export, beside the hash the run pinned.

    The pin is of the normalised recipe (`ft fmt` keeps it), which `ft check` recomputes.
    """
    out: list[str] = []
    for source in plan.sources:
        path = Path(plan.root) / source.path
        text = path.read_text(encoding="utf-8").rstrip() if path.is_file() else "(no longer at this path)"
        out += [f"`{source.path}`, pinned by its normalised sha256 `{source.sha256}`:", "", "```", text, "```", ""]
    return out
