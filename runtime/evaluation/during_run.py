"""The eval block during `ft run`: the base model, evaluations while training, and the verdict."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.models import DataPlan, EvalPlan, Guard, Metric, Plan, PromptPlan
from ftlang.plan.rows import rendered_fields
from ftlang.runtime.data.prompts import Rendered, Renderer
from ftlang.runtime.data.sources import LoadedData, load_data
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation import outcome as oc
from ftlang.runtime.evaluation.evaluate import TASKS, EvalResult, EvalSet, Evaluator, Sample, plan_evaluator
from ftlang.runtime.evaluation.gates import check_plan, resolve
from ftlang.runtime.evaluation.metrics import metric_key
from ftlang.runtime.rundir import write_json
from ftlang.runtime.train import distributed
from ftlang.runtime.train.best import BestTracker

BASE_EVAL = "base_eval.json"  # the base model's samples and guard values, measured before step 0


@dataclass(frozen=True)
class GuardRows:
    guard: Guard
    data: LoadedData
    rendered: list[Rendered]


@dataclass(frozen=True)
class EvalInputs:
    """Everything an eval block reads, checked and rendered before any model loads."""

    plan: EvalPlan
    rendered: list[Rendered]  # the `on` rows
    guards: list[GuardRows]
    labels: list[str] | None  # a classifier's classes, in the head's order
    extra: Sequence[tuple[str, list[Rendered]]] = ()  # the `also_on` sets' rows, by name


def check_labels(rendered: Sequence[Rendered], labels: Sequence[str] | None, what: str) -> None:
    """Evaluation rows must carry labels the classifier has: its head knows no others."""
    stray = next((r for r in rendered if r.label not in labels), None) if labels is not None else None
    if stray is not None:
        raise RunError(
            f"label `{stray.label}` is not one of the prompt's labels ({', '.join(labels or [])})",
            location=stray.origin,
            help=f"{what} uses the labels the model was trained on",
        )


def read_guards(ev: EvalPlan, prompt: PromptPlan, root: Path, labels: Sequence[str] | None) -> list[GuardRows]:
    """Each guard's rows, rendered through the recipe's prompt: a bad row stops the run here."""
    out = []
    text = rendered_fields(prompt.model_dump(mode="json"))
    for guard in ev.guards:
        loaded = load_data(DataPlan(name=guard.name, source=guard.source), root, prompt.fields, text)
        rendered, _ = Renderer(prompt).render_all(loaded.all_rows, skip_bad=False)
        check_labels(rendered, labels, f"guard `{guard.name}`")
        if not rendered:
            raise RunError(f"guard `{guard.name}` has no rows", location="eval")
        out.append(GuardRows(guard, loaded, rendered))
    return out


def prepare(
    plan: Plan,
    rendered: list[Rendered],
    labels: Sequence[str] | None,
    extra: Sequence[tuple[str, list[Rendered]]] = (),
) -> EvalInputs | None:
    """Check the eval block against the task and read its data; None when the plan has none."""
    ev = plan.eval
    if ev is None:
        return None
    check_plan(ev, plan.prompt.task, plan.train.keep_best)
    if not rendered:
        split = f".{ev.on.split}" if ev.on.split else ""
        raise RunError(
            f"the eval data `{ev.on.data}{split}` has no rows after filters and splits",
            location="eval",
            help="give the eval split a larger share, or evaluate on other data",
        )
    for name, rows in extra:
        if not rows:
            raise RunError(f"the eval data `{name}` has no rows after filters and splits", location="eval")
    if ev.guards and plan.prompt.task not in TASKS:
        raise RunError(
            f"guards need a chat, completion, generation or classification prompt, not {plan.prompt.task}",
            location="eval",
        )
    return EvalInputs(
        ev, rendered, read_guards(ev, plan.prompt, Path(plan.root), labels), list(labels) if labels else None, extra
    )


class Suite:
    """An eval block's row sets tokenised for one Evaluator: the `on` rows and each guard's."""

    def __init__(self, evaluator: Evaluator, inputs: EvalInputs):
        self.evaluator, self.ev = evaluator, inputs.plan
        self.on = evaluator.prepare(self.ev.on.data, inputs.rendered)
        self.extra = [evaluator.prepare(name, rows) for name, rows in inputs.extra]
        self.guards = [
            (
                evaluator.with_metrics([g.guard.metric]),
                evaluator.prepare(g.guard.name, g.rendered),
                metric_key(g.guard.metric),
            )
            for g in inputs.guards
        ]

    def measure(self, model: Any, samples: int = 0) -> EvalResult:
        """The metrics on `on`, and on each further set as `<set>/<metric>`."""
        result = self.evaluator(model, self.on, samples)
        for data in self.extra:
            result.metrics.update({f"{data.name}/{k}": v for k, v in self.evaluator(model, data).metrics.items()})
        return result

    def samples(self, model: Any) -> list[Sample]:
        """Only the rows shown in the report: cheaper than a whole evaluation."""
        n = self.ev.samples
        if n == 0:
            return []
        head = EvalSet(self.on.name, self.on.rendered[:n], self.on.examples[:n])
        return self.evaluator(model, head, n).samples

    def guard_values(self, model: Any) -> list[float]:
        return [scorer(model, data).metrics[key] for scorer, data, key in self.guards]


def make_suite(
    plan: Plan, inputs: EvalInputs, model: Any, tokenizer: Any, *, max_len: int, device: torch.device
) -> Suite | None:
    """The Suite that scores `model` with the eval block; None for prompts only a method scores."""
    if plan.prompt.task not in TASKS:
        return None
    return Suite(
        plan_evaluator(plan, inputs.plan, model, tokenizer, labels=inputs.labels, max_len=max_len, device=device),
        inputs,
    )


def _tracker(plan: Plan, run_dir: Path) -> BestTracker | None:
    tp, ev = plan.train, plan.eval
    if ev is None or (tp.patience is None and tp.keep_best is None):
        return None
    # patience alone watches the loss; keep_best names the metric both follow
    name = tp.keep_best or "loss"
    resolve(name, ev.metrics, f"`keep_best = {name}`")  # one metric of that name, or loss
    metric = next((x for x in ev.metrics if x.name == name), Metric(name="loss"))
    return BestTracker(metric, tp.patience, tp.keep_best is not None, run_dir)


class RunEvaluation:
    """The eval block of one run, bound to its model: the base, evaluations while training, the end.

    The eval block's metrics come from the Suite (None for preference prompts, which only their
    method can score); a method with metrics of its own (DPO's margins, GRPO's rewards) adds
    them through `method_eval`.
    """

    def __init__(
        self,
        plan: Plan,
        inputs: EvalInputs,
        model: torch.nn.Module,
        suite: Suite | None,
        method_eval: Callable[[], dict[str, Any]] | None,
        run_dir: Path,
    ):
        self.ev, self.model, self.suite, self.method_eval = inputs.plan, model, suite, method_eval
        self.run_dir = Path(run_dir)
        self.tracker = _tracker(plan, run_dir)

    def _measure(self, samples: int = 0) -> EvalResult:
        result = self.suite.measure(self.model, samples) if self.suite else EvalResult({}, [])
        if self.method_eval:
            result.metrics.update({k.removeprefix("eval_"): v for k, v in self.method_eval().items()})
        return result

    def before_training(self) -> dict[str, Any] | None:
        """The base model: its eval metrics (the record to log at step 0), samples and guard values."""
        if not (self.ev.compare_base or self.ev.guards):
            return None
        base = self._measure(self.ev.samples) if self.ev.compare_base else EvalResult({}, [])
        guards = self.suite.guard_values(self.model) if self.suite else []
        if distributed.is_main():  # rank 0 alone writes the run directory
            write_json(self.run_dir / BASE_EVAL, {"samples": [asdict(s) for s in base.samples], "guards": guards})
        return {f"eval_{k}": v for k, v in base.metrics.items()} if self.ev.compare_base else None

    def resume(self, records: Sequence[dict[str, Any]]) -> None:
        if self.tracker:
            self.tracker.replay(records)

    def during(self, step: int) -> dict[str, Any]:
        values = self._measure().metrics
        if self.tracker:
            self.tracker.update(step, values, self.model)
        return {f"eval_{k}": v for k, v in values.items()}

    @property
    def should_stop(self) -> bool:
        return self.tracker is not None and self.tracker.should_stop

    def finish(self, records: Sequence[dict[str, Any]]) -> oc.Outcome:
        """Restore the best weights (keep_best), then judge the model that will be written.

        Its metrics are those logged when it was evaluated (the best or the last step); only
        its samples and the guards are measured here.
        """
        best_step = self.tracker.restore(self.model) if self.tracker else None
        evals = [r for r in records if "eval_examples" in r]
        step = best_step if best_step is not None else evals[-1]["step"]
        tuned = _values(next(r for r in evals if r["step"] == step))
        base = _values(evals[0]) if self.ev.compare_base and evals[0]["step"] == 0 else None
        saved_path = self.run_dir / BASE_EVAL
        saved = json.loads(saved_path.read_text(encoding="utf-8")) if saved_path.exists() else {}
        shown = self.suite.samples(self.model) if self.suite else []
        guards = list(zip(saved.get("guards", []), self.suite.guard_values(self.model) if self.suite else []))
        base_samples = [Sample(**s) for s in saved.get("samples", [])] if base is not None else None
        return oc.build(
            self.ev,
            tuned,
            base,
            guards,
            shown,
            base_samples,
            step=step,
            best_step=best_step,
            stopped_early=self.should_stop,
        )


def _values(record: dict[str, Any]) -> dict[str, float]:
    return {k.removeprefix("eval_"): v for k, v in record.items() if k.startswith("eval_")}
