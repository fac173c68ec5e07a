"""The outcome of an evaluation — metrics base → tuned, samples, gates and guards — as evaluation.json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftlang.plan.mixture import shown
from ftlang.plan.models import EvalPlan
from ftlang.runtime.evaluation import gates
from ftlang.runtime.evaluation.evaluate import Sample
from ftlang.runtime.evaluation.metrics import metric_key
from ftlang.runtime.rundir import write_json

EVALUATION = "evaluation.json"


@dataclass(frozen=True)
class SamplePair:
    """One row's expected answer and what the base and the tuned model said."""

    input: str
    expected: str
    tuned: str
    base: str | None = None


@dataclass(frozen=True)
class Outcome:
    on: str  # `tickets.eval`
    keys: list[str]  # the metrics the eval asks for, in its order
    tuned: dict[str, float]
    base: dict[str, float] | None
    verdict: gates.Verdict
    samples: list[SamplePair] = field(default_factory=list)
    step: int | None = None  # the training step of the weights evaluated
    best_step: int | None = None  # set when keep_best restored the weights of that step
    stopped_early: bool = False
    # The further eval sets (`on [a.eval, b.eval]`): their metrics are in `tuned` and `base`
    # as `<set>/<metric>`.
    also_on: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def delta(self, key: str) -> float | None:
        if self.base is None or key not in self.base or key not in self.tuned:
            return None
        return self.tuned[key] - self.base[key]

    def set_keys(self) -> list[str]:
        """The metric keys of the further eval sets, in the eval's order."""
        return [f"{s}/{k}" for s in self.also_on for k in self.keys]

    def summary(self) -> dict[str, Any]:
        """For summary.json: the eval metrics of the model written (the best one with keep_best)."""
        return {
            **{f"eval_{k}": v for k, v in self.tuned.items()},
            "eval_step": self.step,
            "best_step": self.best_step,
            "stopped_early": self.stopped_early,
            "passed": self.passed,
        }

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.as_dict()
        data["delta"] = {k: self.delta(k) for k in [*self.keys, *self.set_keys()]}
        return data

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Outcome:
        fields = {k: v for k, v in data.items() if k not in ("verdict", "delta", "samples")}
        return Outcome(
            **fields,
            verdict=gates.Verdict.from_dict(data["verdict"]),
            samples=[SamplePair(**s) for s in data.get("samples", [])],
        )

    def write(self, run_dir: Path) -> None:
        write_json(Path(run_dir) / EVALUATION, self.as_dict())


def read_outcome(run_dir: Path) -> Outcome | None:
    path = Path(run_dir) / EVALUATION
    return Outcome.from_dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def build(
    ev: EvalPlan,
    tuned: Mapping[str, float],
    base: Mapping[str, float] | None,
    guards: Sequence[tuple[float, float]],
    tuned_samples: Sequence[Sample],
    base_samples: Sequence[Sample] | None,
    *,
    step: int | None,
    best_step: int | None = None,
    stopped_early: bool = False,
) -> Outcome:
    """Judge the gates and guards, and pair each sample's tuned output with the base's."""
    on = shown(ev.on)
    keys = [metric_key(x) for x in ev.metrics]
    bases = [b.output for b in base_samples] if base_samples else [None] * len(tuned_samples)
    pairs = [SamplePair(t.input, t.expected, t.output, b) for t, b in zip(tuned_samples, bases)]
    return Outcome(
        on,
        keys,
        dict(tuned),
        dict(base) if base is not None else None,
        gates.verdict(ev, tuned, base, guards),
        pairs,
        step,
        best_step,
        stopped_early,
        [shown(ref) for ref in ev.also_on],
    )
