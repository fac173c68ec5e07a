"""`ft export`: a run's model as a folder to ship — the adapter alone or merged into its base.

Both are the standard transformers/peft layout (safetensors, config, generation config,
tokenizer) with a model card README.md written from the run. Nothing in them names a path of
this machine: an adapter's `base_model_name_or_path` is the base's hub id, or a path relative
to the folder that holds the adapter.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ftlang.plan.canonical import load_plan
from ftlang.plan.models import HfModel, Plan, ScratchModel
from ftlang.runtime import rundir
from ftlang.runtime.errors import RunError
from ftlang.runtime.models import ModelSource, load_pretrained, resolve_source
from ftlang.runtime.quiet import quiet_libraries
from ftlang.runtime.report.model_card import model_card

ADAPTER_CONFIG = "adapter_config.json"


def base_folder(plan: Plan, run_dir: Path) -> ModelSource:
    """Where the run's base loads from: its saved scratch model, or its source again."""
    if isinstance(plan.model.source, ScratchModel):
        return ModelSource(str(run_dir / rundir.BASE))
    source = resolve_source(plan.model, Path(plan.root))
    assert source is not None
    return source


def portable_base(plan: Plan, run_dir: Path, folder: Path) -> str:
    """How an adapter in `folder` names its base: the hub id, else the base's path relative to `folder`."""
    if isinstance(plan.model.source, HfModel):
        return plan.model.source.id
    base = Path(base_folder(plan, run_dir).ref).resolve()
    return os.path.relpath(base, Path(folder).resolve())


def make_adapter_portable(folder: Path, base: str) -> None:
    """Name the base as `base` in an adapter's config, and in peft's README beside it.

    peft writes the path the base was loaded from, an absolute path of this machine for a
    local or scratch base: the folder breaks once moved, and two identical runs differ by it.
    """
    config_path = Path(folder) / ADAPTER_CONFIG
    if not config_path.exists():  # full fine-tuning: no adapter
        return
    config = json.loads(config_path.read_text(encoding="utf-8"))
    written = config.get("base_model_name_or_path")
    config["base_model_name_or_path"] = base
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    card = Path(folder) / "README.md"
    if written and card.exists():
        card.write_text(card.read_text(encoding="utf-8").replace(str(written), base), encoding="utf-8")


def export_run(run_dir: Path, out: Path, *, merged: bool = False) -> Path:
    """Write the run's model to `out` (a new folder); `merged` folds an adapter into its base."""
    run_dir, out = Path(run_dir), Path(out)
    model_dir = run_dir / rundir.MODEL
    if not (run_dir / rundir.PLAN).is_file() or not model_dir.is_dir():
        raise RunError(f"{run_dir} is not a finished run (it needs {rundir.PLAN} and {rundir.MODEL}/)")
    if out.exists() and any(out.iterdir()):
        raise RunError(f"{out} exists and is not empty", help="export into a new folder")
    plan = load_plan((run_dir / rundir.PLAN).read_text(encoding="utf-8"))
    has_adapter = (model_dir / ADAPTER_CONFIG).exists()
    out.mkdir(parents=True, exist_ok=True)
    if merged and has_adapter:
        _write_merged(plan, run_dir, out)
    else:
        shutil.copytree(model_dir, out, dirs_exist_ok=True)
        make_adapter_portable(out, portable_base(plan, run_dir, out))
        _copy_generation_config(plan, run_dir, out)
    kind = "merged" if merged and has_adapter else ("adapter" if has_adapter else "full")
    (out / "README.md").write_text(model_card(run_dir, plan, kind, portable_base(plan, run_dir, out)), "utf-8")
    return out


def _labels(run_dir: Path) -> list[str] | None:
    summary = json.loads((run_dir / rundir.SUMMARY).read_text(encoding="utf-8"))
    labels: list[str] | None = summary.get("labels")
    return labels


def _write_merged(plan: Plan, run_dir: Path, out: Path) -> None:
    """The base with the adapter's weights added in (peft's merge_and_unload), saved whole."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    base = load_pretrained(plan.model, base_folder(plan, run_dir), plan.prompt.task, 0, _labels(run_dir))
    with quiet_libraries():
        tuned = PeftModel.from_pretrained(base, run_dir / rundir.MODEL)
        merged: Any = tuned.merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(run_dir / rundir.MODEL).save_pretrained(out)


def _copy_generation_config(plan: Plan, run_dir: Path, out: Path) -> None:
    """An adapter's folder has no generation config; the base's is what it generates with."""
    name = "generation_config.json"
    if (out / name).exists() or plan.prompt.task == "classification":
        return
    found = Path(base_folder(plan, run_dir).ref) / name
    if found.is_file():
        shutil.copyfile(found, out / name)
