"""Evaluation: score one model on one set of rows — loss, class metrics, generation metrics, samples."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.plan.catalogue import METRICS
from ftlang.plan.models import EvalPlan, Generation, Metric, Plan
from ftlang.runtime.data.batching import Collator, singles
from ftlang.runtime.data.prompts import Example, Rendered, answer_text, end_of_turn_ids, generation_prompt, tokenize
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation import metrics as m
from ftlang.runtime.evaluation.generation import generate_texts, pad_id
from ftlang.runtime.methods.policy import evaluating
from ftlang.runtime.train import precision as precisions
from ftlang.runtime.train.levers import trains_base
from ftlang.runtime.train.loop import autocast, evaluate_loss
from ftlang.runtime.train.precision import Precision

TASKS = ("chat", "completion", "generation", "classification")


@dataclass(frozen=True)
class EvalSet:
    """Rows ready to score: rendered (for generation and samples) and tokenised (for the loss)."""

    name: str
    rendered: Sequence[Rendered]
    examples: Sequence[Example]


@dataclass(frozen=True)
class Sample:
    """One row as a reviewer reads it: what the model was given, what was expected, what it said."""

    input: str
    expected: str
    output: str


@dataclass(frozen=True)
class EvalResult:
    """Metric values by key (see metrics.metric_key), plus `examples`; and the first rows as samples."""

    metrics: dict[str, float]
    samples: list[Sample]


def shown_input(r: Rendered) -> str:
    """The part of a row a reader recognises: the last turn before the answer, or the input."""
    asked = [content for role, content in r.messages[:-1] if role != "assistant"]
    return asked[-1] if asked else r.input


def expected_text(r: Rendered) -> str:
    if r.messages:
        return r.messages[-1][1]
    return r.label or r.target


class Evaluator:
    """Scores models on evaluation sets with one plan's metrics and generation settings.

    Evaluation never changes a training run: the model is put in eval mode (no dropout, no
    random draws) and back, and sampled generation draws from a generator of its own. Its
    forward passes run in `precision`, the one the run trains in.
    """

    def __init__(
        self,
        metrics: Sequence[Metric],
        task: str,
        tokenizer: Any,
        *,
        generation: Generation,
        labels: Sequence[str] | None,
        collator: Collator,
        batch_size: int,
        max_len: int,
        device: torch.device,
        precision: Precision | None = None,
    ):
        if task not in TASKS:
            raise RunError(
                f"{task} prompts are evaluated by their method, not by the eval block",
                help="evaluate on a chat, completion, generation or classification prompt",
            )
        self.metrics, self.task, self.tokenizer = list(metrics), task, tokenizer
        self.generation, self.labels, self.collator = generation, list(labels or []), collator
        self.batch_size, self.max_len, self.device = batch_size, max_len, device
        self.precision = precision

    @property
    def text_metrics(self) -> list[Metric]:
        return [x for x in self.metrics if METRICS[x.name].source == "text"]

    def with_metrics(self, metrics: Sequence[Metric]) -> Evaluator:
        """The same settings with other metrics: a guard measures its own metric."""
        other = copy.copy(self)
        other.metrics = list(metrics)
        return other

    def prepare(self, name: str, rendered: Sequence[Rendered]) -> EvalSet:
        """Tokenise rendered rows the way training did, for the loss."""
        examples, _ = tokenize(rendered, self.tokenizer, self.task, self.max_len, self.labels)
        return EvalSet(name, rendered, examples)

    def __call__(self, model: Any, data: EvalSet, samples: int = 0) -> EvalResult:
        if not data.examples:
            raise RunError(f"`{data.name}` has no rows to evaluate (or every one lost its target to max_len)")
        if self.task == "classification":
            values, shown = self._classify(model, data, samples)
        else:
            values, shown = self._lm(model, data, samples)
        if any(x.name == "perplexity" for x in self.metrics):
            values["perplexity"] = m.perplexity(values["loss"])
        return EvalResult(values, shown)

    def _classify(self, model: Any, data: EvalSet, samples: int) -> tuple[dict[str, float], list[Sample]]:
        logits = class_logits(model, data.examples, self.collator, self.batch_size, self.device, self.precision)
        gold = [ex.labels[0] for ex in data.examples]
        predicted = logits.argmax(-1).tolist()
        loss = F.cross_entropy(logits, torch.tensor(gold, dtype=torch.long), reduction="sum").item()
        values = {"loss": loss / max(1, len(gold)), "examples": len(gold)}
        # A classifier always reports accuracy; the other label metrics when the eval names them.
        for name in dict.fromkeys(["accuracy", *(x.name for x in self.metrics if x.name in m.ON_LABELS)]):
            values[name] = m.ON_LABELS[name](predicted, gold)
        shown = [Sample(r.input, r.label, self.labels[p]) for r, p in zip(data.rendered[:samples], predicted)]
        return values, shown

    def _lm(self, model: Any, data: EvalSet, samples: int) -> tuple[dict[str, float], list[Sample]]:
        scored = evaluate_loss(
            model,
            data.examples,
            task=self.task,
            collator=self.collator,
            batch_size=self.batch_size,
            device=self.device,
            precision=self.precision,
        )
        values = {k.removeprefix("eval_"): v for k, v in scored.items()}
        # Generating is the slow part: every row for text metrics, else only the samples shown.
        rows = list(data.rendered) if self.text_metrics else list(data.rendered[:samples])
        outputs = generate_texts(
            model,
            self.tokenizer,
            [generation_prompt(r, self.tokenizer) for r in rows],
            self.generation,
            max_len=self.max_len,
            batch_size=self.batch_size,
            device=self.device,
            stops=end_of_turn_ids(rows[0], self.tokenizer) if rows else (),
            precision=self.precision,
        )
        outputs = [answer_text(r, self.tokenizer, out) for r, out in zip(rows, outputs)]
        # A generation prompt has no expected answer; the reference metrics refuse it.
        references = None if self.task == "generation" else [expected_text(r) for r in rows]
        for metric in self.text_metrics:
            values[m.metric_key(metric)] = m.text_metric(metric, outputs, references)
        shown = [Sample(shown_input(r), expected_text(r), out) for r, out in zip(rows[:samples], outputs)]
        return values, shown


def plan_evaluator(
    plan: Plan,
    ev: EvalPlan,
    model: Any,
    tokenizer: Any,
    *,
    labels: Sequence[str] | None,
    max_len: int,
    device: torch.device,
) -> Evaluator:
    """The Evaluator of an eval block for `model`: one example per sequence, the run's micro-batch,
    the precision the plan trains in on `device` (`evaluation_precision`)."""
    collator = Collator(
        plan.prompt.task,
        pad_id(tokenizer),
        False,
        getattr(model.config, "_attn_implementation", None),
        next(model.parameters()).dtype,
    )
    return Evaluator(
        ev.metrics,
        plan.prompt.task,
        tokenizer,
        generation=ev.generation,
        labels=labels,
        collator=collator,
        batch_size=plan.train.micro_batch or plan.train.batch,
        max_len=max_len,
        device=device,
        precision=evaluation_precision(plan, device),
    )


def evaluation_precision(plan: Plan, device: torch.device) -> Precision:
    """The precision the plan trains in on `device`; where that device cannot compute in it (`ft eval`
    of a GPU's fp16 run on a CPU: `ft run` refused it before), the device's `auto`, so the run can
    still be evaluated there."""
    trains = trains_base(plan)
    try:
        return precisions.resolve(plan.compute, plan.model, device, trains_base=trains)
    except RunError:
        auto = plan.compute.model_copy(update={"precision": "auto"})
        return precisions.resolve(auto, plan.model, device, trains_base=trains)


@torch.no_grad()
def class_logits(
    model: Any,
    examples: Sequence[Example],
    collator: Collator,
    batch_size: int,
    device: torch.device,
    precision: Precision | None = None,
) -> torch.Tensor:
    """[N, classes] float32 logits on the host, in eval mode, in the examples' order."""
    items = singles(examples)
    chunks = []
    with evaluating(model):
        for i in range(0, len(items), batch_size):
            batch = collator(items[i : i + batch_size], packed=False).to(device)
            with autocast(device, precision):
                chunks.append(model(**batch.model_inputs()).logits.float().cpu())
    return torch.cat(chunks)


def evaluate(
    plan: Plan,
    model: Any,
    tokenizer: Any,
    rendered: Sequence[Rendered],
    *,
    labels: Sequence[str] | None = None,
    samples: int = 0,
    device: torch.device | str = "cpu",
) -> EvalResult:
    """Score `model` on rendered rows with `plan.eval`'s metrics and generation settings.

    The entry point for methods with their own loop (DPO, GRPO): render rows with
    `prompts.Renderer(plan.prompt)`, then call this. For classification, `labels` are the
    class names in the head's order.
    """
    if plan.eval is None:
        raise RunError("the plan has no eval block to evaluate with")
    evaluator = plan_evaluator(
        plan, plan.eval, model, tokenizer, labels=labels, max_len=plan.train.max_len, device=torch.device(device)
    )
    return evaluator(model, evaluator.prepare(plan.eval.on.data, rendered), samples)
