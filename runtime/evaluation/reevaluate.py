"""`ft eval`: evaluate a finished run's model again, with its own eval block or another recipe's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.canonical import load_plan
from ftlang.plan.mixture import shown
from ftlang.plan.models import DataRef, LoraMethod, Plan, ScratchModel
from ftlang.plan.rows import rendered_fields
from ftlang.runtime import rundir
from ftlang.runtime.data.prompts import Rendered, Renderer
from ftlang.runtime.data.sources import load_data
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation import outcome as oc
from ftlang.runtime.evaluation.during_run import EvalInputs, check_labels, make_suite, prepare
from ftlang.runtime.evaluation.evaluate import TASKS
from ftlang.runtime.models import ModelSource, load_pretrained, load_tokenizer, resolve_source
from ftlang.runtime.quiet import quiet_libraries


def _inputs(plan: Plan, labels: list[str] | None) -> EvalInputs:
    """The eval rows of `plan` (each set's), rendered through its prompt; no run directory is involved."""
    assert plan.eval is not None
    extra = [(shown(ref), _rendered(plan, ref, labels)) for ref in plan.eval.also_on]
    inputs = prepare(plan, _rendered(plan, plan.eval.on, labels), labels, extra)
    assert inputs is not None
    return inputs


def _rendered(plan: Plan, ref: DataRef, labels: list[str] | None) -> list[Rendered]:
    by_name = {d.name: d for d in plan.data}
    if ref.data not in by_name:
        raise RunError(f"the eval block evaluates `{ref.data}`, which the recipe does not declare", location="eval")
    dp = by_name[ref.data]
    text = rendered_fields(plan.prompt.model_dump(mode="json"))
    rows = load_data(dp, Path(plan.root), plan.prompt.fields, text).rows(ref.split)
    rendered, _ = Renderer(plan.prompt).render_all(rows, skip_bad=dp.bad_rows == "skip")
    check_labels(rendered, labels, f"`{ref.data}`")
    return rendered


def _base_model(plan: Plan, run_dir: Path, labels: list[str] | None) -> Any:
    # A scratch run saved its initial model; the others start from their source again.
    if isinstance(plan.model.source, ScratchModel):
        source = ModelSource(str(run_dir / rundir.BASE))
    else:
        source = resolve_source(plan.model, Path(plan.root))
        assert source is not None
    return load_pretrained(plan.model, source, plan.prompt.task, plan.train.seed, labels)


def _tuned_model(plan: Plan, run_dir: Path, base: Any, labels: list[str] | None) -> Any:
    if isinstance(plan.method, LoraMethod):
        from peft import PeftModel

        return PeftModel.from_pretrained(base, run_dir / rundir.MODEL)
    return load_pretrained(
        plan.model, ModelSource(str(run_dir / rundir.MODEL)), plan.prompt.task, plan.train.seed, labels
    )


def reevaluate(run_dir: Path, other: Plan | None = None) -> oc.Outcome:
    """Evaluate the model `ft run` wrote to RUNDIR/model, and the base when the eval block asks.

    With `other`, its eval block and its data declarations (paths relative to its own folder)
    replace the run's; the rows still go through the run's prompt, the format the model
    learned. Nothing in the run directory changes.
    """
    run_dir = Path(run_dir)
    if not (run_dir / rundir.PLAN).exists() or not (run_dir / rundir.MODEL).is_dir():
        raise RunError(f"{run_dir} is not a finished run (it needs {rundir.PLAN} and {rundir.MODEL}/)")
    plan = load_plan((run_dir / rundir.PLAN).read_text(encoding="utf-8"))
    summary = json.loads((run_dir / rundir.SUMMARY).read_text(encoding="utf-8"))
    source = other or plan
    if source.eval is None:
        raise RunError("there is no eval block to evaluate with", help="pass --recipe with a recipe that has one")
    if plan.prompt.task not in TASKS:
        raise RunError(f"ft eval scores chat, completion, generation and classification runs, not {plan.prompt.task}")
    labels = summary.get("labels")
    # The other recipe brings its eval block and data; the model, prompt and training are the run's.
    evaluated = plan.model_copy(update={"eval": source.eval, "data": source.data, "root": source.root})
    inputs = _inputs(evaluated, labels)
    ev = source.eval
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with quiet_libraries():
        base = _base_model(plan, run_dir, labels).to(device)
        tokenizer = load_tokenizer(plan.model, ModelSource(str(run_dir / rundir.MODEL)))
        suite = make_suite(evaluated, inputs, base, tokenizer, max_len=summary["max_len"], device=device)
        assert suite is not None
        base_result = suite.measure(base, ev.samples) if ev.compare_base else None
        base_guards = suite.guard_values(base)
        tuned = _tuned_model(plan, run_dir, base, labels).to(device)  # LoRA wraps the base in place
        result = suite.measure(tuned, ev.samples)
        guards = list(zip(base_guards, suite.guard_values(tuned)))
    return oc.build(
        ev,
        result.metrics,
        base_result.metrics if base_result else None,
        guards,
        result.samples,
        base_result.samples if base_result else None,
        step=summary.get("eval_step"),
        best_step=summary.get("best_step"),
    )
