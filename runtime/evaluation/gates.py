"""Gates and guards: the measured metrics against `require` thresholds and guards' allowed drops."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ftlang.plan.catalogue import METRICS
from ftlang.plan.models import EvalPlan, Gate, Metric
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation import metrics as m

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class GateResult:
    gate: str  # as a recipe writes it: `delta(accuracy) >= 0.05`
    measured: float  # the metric (tuned model), or its change from the base for delta gates
    passed: bool


@dataclass(frozen=True)
class GuardResult:
    name: str
    metric: str
    base: float
    tuned: float
    drop: float  # relative worsening: 0.03 is 3 % worse than the base; negative when better
    max_drop: float
    passed: bool


@dataclass(frozen=True)
class Verdict:
    gates: list[GateResult]
    guards: list[GuardResult]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates) and all(g.passed for g in self.guards)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "gates": [asdict(g) for g in self.gates],
            "guards": [asdict(g) for g in self.guards],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Verdict:
        return Verdict(
            [GateResult(**g) for g in data.get("gates", [])], [GuardResult(**g) for g in data.get("guards", [])]
        )

    def lines(self) -> list[str]:
        """One line per gate and guard, PASS or FAIL with what was measured, for a terminal."""
        out = [f"  {'PASS' if g.passed else 'FAIL'}  require {g.gate}  (measured {g.measured:.4f})" for g in self.gates]
        out += [
            f"  {'PASS' if g.passed else 'FAIL'}  guard {g.name}: {g.metric} {g.base:.4f} -> {g.tuned:.4f}, "
            f"drop {g.drop:.1%} (max {g.max_drop:.1%})"
            for g in self.guards
        ]
        return out


def gate_text(gate: Gate) -> str:
    subject = f"delta({gate.metric})" if gate.delta else gate.metric
    return f"{subject} {gate.op} {gate.value:g}"


def fits(name: str, task: str) -> bool:
    """Whether a metric can be measured on this kind of prompt: the catalogue's answer, which the
    compiler gives too (E0208); a hand-written plan.json reaches the runtime unchecked."""
    return name in METRICS and task in METRICS[name].shapes


def resolve(name: str, metrics: Sequence[Metric], what: str) -> str:
    """The key of the one measured metric called `name` (`contains` may be measured twice)."""
    keys = [m.metric_key(x) for x in metrics if x.name == name]
    if not keys and name == "loss":  # always measured
        return "loss"
    if len(keys) != 1:
        measured = ", ".join(m.metric_key(x) for x in metrics) or "loss"
        raise RunError(
            f"{what} uses `{name}`, which the eval measures {'twice' if keys else 'not at all'}",
            location="eval",
            help=f"measured: {measured}",
        )
    return keys[0]


def check_plan(ev: EvalPlan, task: str, keep_best: str | None) -> None:
    """What the compiler cannot see in a hand-written plan.json, caught before a model loads."""
    for metric in [*ev.metrics, *(g.metric for g in ev.guards)]:
        if not fits(metric.name, task):
            raise RunError(f"`{metric.name}` cannot be measured on a {task} prompt", location="eval")
        if metric.name == "regex":
            m.compile_pattern(metric.arg or "")
    for gate in ev.require:
        resolve(gate.metric, ev.metrics, f"`require {gate_text(gate)}`")
        if gate.delta and not ev.compare_base:
            raise RunError(
                f"`require {gate_text(gate)}` compares with the base model, which is not evaluated",
                location="eval",
                help="add `compare base` to the eval block",
            )
    for guard in ev.guards:
        if not METRICS[guard.metric.name].rankable:
            raise RunError(
                f"guard `{guard.name}` watches `{guard.metric.name}`, which has no better or worse",
                location="eval",
                help="guard loss, accuracy or another ranked metric",
            )
    if keep_best in METRICS and not METRICS[keep_best].rankable:
        raise RunError(f"`keep_best = {keep_best}`: `{keep_best}` has no better or worse", location="train")


def relative_drop(name: str, base: float, tuned: float) -> float:
    """How much worse `tuned` is than `base`, relative to the base: (base − tuned) / |base| for
    metrics where higher is better, (tuned − base) / |base| for loss and perplexity, where a
    rise is the drop. A zero base has no relative scale: any worsening is an infinite drop."""
    worse = (base - tuned) if m.higher_is_better(name) else (tuned - base)
    if base == 0:
        return math.inf if worse > 0 else 0.0
    return worse / abs(base)


def verdict(
    ev: EvalPlan, tuned: Mapping[str, float], base: Mapping[str, float] | None, guards: Sequence[tuple[float, float]]
) -> Verdict:
    """Gates on the tuned (and base) eval metrics; `guards` are each guard's (base, tuned) values."""
    gates = []
    for gate in ev.require:
        key = resolve(gate.metric, ev.metrics, "`require`")
        # A metric the method did not report is NaN, which fails every comparison.
        value = tuned.get(key, math.nan)
        if gate.delta:
            value -= (base or {}).get(key, math.nan)
        gates.append(GateResult(gate_text(gate), value, _OPS[gate.op](value, gate.value)))
    held = []
    for guard, (before, after) in zip(ev.guards, guards, strict=True):
        drop = relative_drop(guard.metric.name, before, after)
        held.append(
            GuardResult(
                guard.name, m.metric_key(guard.metric), before, after, drop, guard.max_drop, drop <= guard.max_drop
            )
        )
    return Verdict(gates, held)
