"""Report contents: what a run directory holds, gathered once for the Markdown and the HTML report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlang.plan.canonical import load_plan, plan_hash
from ftlang.plan.catalogue import METRICS
from ftlang.plan.models import LoraMethod, Plan
from ftlang.runtime import rundir
from ftlang.runtime.evaluation.outcome import Outcome, read_outcome
from ftlang.runtime.redact import redact, redact_param
from ftlang.runtime.report.plots import Chart, Series
from ftlang.runtime.report.record import overrides_fact, recipe_text, reproducibility_fact, settings_fact

SAMPLE_CHARS = 240  # a sample longer than this is cut: the report stays short


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Report:
    recipe: str
    description: str
    verdict: str | None  # PASS or FAIL; None when nothing was required
    facts: list[tuple[str, str]]
    tables: list[Table]
    charts: list[Chart]
    recipe_text: str | None = None  # the recipe file as it ran


def number(value: Any, signed: bool = False) -> str:
    """Counts with thousands separators; metrics with four decimals (so 1.0000 reads as a score)."""
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    sign = "+" if signed else ""
    return f"{value:{sign}.4f}" if abs(value) < 1000 else f"{value:{sign},.1f}"


def percent(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.1%}"


def _cut(text: str | None) -> str:
    if text is None:
        return "–"
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


def _model_line(model: dict[str, Any]) -> str:
    kind = model.get("kind")
    if kind == "package":
        who = f"package {model['name']} {model.get('version') or ''}".rstrip()
    elif kind == "hf":
        commit = f", commit {model['commit'][:12]}" if model.get("commit") else ""
        who = f"hf {model['id']} @ {model.get('revision') or 'default'}{commit}"
    elif kind == "local":
        who = f"local {model['path']}"
    else:
        who = f"scratch {model.get('model_type', '')} (hidden {model.get('hidden')}, layers {model.get('layers')})"
    weights = model.get("weights_sha256") or {}
    pinned = "".join(f", {name} sha256 {digest[:12]}…" for name, digest in sorted(weights.items())[:2])
    return f"{who}, {number(model.get('parameters'))} parameters{pinned}"


def _data_file(f: dict[str, Any]) -> str:
    if f.get("revision") is not None:  # a hub dataset: its commit and `datasets`' fingerprint
        return f"{f['path']} @ {f['revision'][:12] or 'latest'}, fingerprint {f['fingerprint']}"
    return f"{f['path']} sha256 {f['sha256'][:12]}…"


def _data_lines(lock: dict[str, Any], train_tokens: int | None) -> list[str]:
    """Each data declaration with its rows per stage: read, after `where`, kept, per split."""
    lines = []
    for d in lock.get("data", []):
        files = ", ".join(_data_file(f) for f in d.get("files", [])) or "inline rows"
        stats = d.get("stats", {})
        splits = " · ".join(
            f"{k.removeprefix('split_')} {v:,}" for k, v in sorted(stats.items()) if k.startswith("split_")
        )
        stages = f"read {stats.get('read', 0):,}"
        if "after_where" in stats:
            stages += f" → where {stats['after_where']:,}"
        stages += f" → kept {stats.get('kept', 0):,}" + (f" → {splits}" if splits else "")
        lines.append(f"{d['name']}: {files}; {stages}")
    if train_tokens is not None and lines:
        lines.append(f"{train_tokens:,} training tokens after templating")
    return lines


def _method_line(plan: Plan, method: dict[str, Any]) -> str:
    kind = method.get("kind", plan.method.kind)
    if isinstance(plan.method, LoraMethod):
        kind = f"lora r={plan.method.rank} on {', '.join(method.get('targets') or plan.method.targets)}"
    share = method.get("trainable", 0) / max(1, method.get("total", 1))
    return f"{kind}: {number(method.get('trainable'))} of {number(method.get('total'))} parameters train ({share:.2%})"


def _training_lines(plan: Plan, s: dict[str, Any], outcome: Outcome | None) -> list[tuple[str, str]]:
    tp = plan.train
    warmup = tp.schedule.warmup
    schedule = tp.schedule.kind + (
        f", warm-up {warmup:.0%}" if 0 < warmup < 1 else f", warm-up {warmup:g} steps" if warmup else ""
    )
    lines = [
        (
            "training",
            f"{s['steps']:,} of {s['total_steps']:,} steps ({s['epochs']:g} epochs) in "
            f"{s['elapsed']:.1f} s; final loss {number(s.get('final_loss'))}; lr {tp.lr:g} "
            f"{schedule}; batch {tp.batch}; seed {tp.seed}",
        )
    ]
    if s.get("mixture"):
        taken = " + ".join(f"{m['source']} {m['used']:,} (has {m['available']:,})" for m in s["mixture"])
        lines.append(("mixture", f"rows an epoch took from each source: {taken} (seed {tp.seed})"))
    if outcome and outcome.stopped_early:
        watched = tp.keep_best or "loss"
        lines.append(("early stop", f"at step {s['steps']}: {tp.patience} evaluations without a better {watched}"))
    if outcome and outcome.best_step is not None:
        last = "" if outcome.best_step == s["steps"] else f", not of the last step ({s['steps']})"
        lines.append(
            ("model written", f"the best by {tp.keep_best}: the weights of step {outcome.best_step} (keep_best){last}")
        )
    return lines


def _levers_line(levers: dict[str, Any]) -> str:
    parts = [f"precision {levers['precision']}", f"weights {levers['dtype']}", f"attention {levers['attention']}"]
    parts.append(f"optimizer {levers['optimizer']}")
    switches = ("gradient_checkpointing", "compile", "offload", "tf32")
    parts += [name.replace("_", " ") for name in switches if levers.get(name)]
    parts += [f"quantize {levers['quantize']}"] * bool(levers.get("quantize"))
    parts += [f"kernels {levers['kernels']}"] * (levers.get("kernels", "none") != "none")
    return " · ".join(parts)


def _facts(
    plan: Plan, lock: dict[str, Any], s: dict[str, Any], outcome: Outcome | None, run_dir: Path
) -> list[tuple[str, str]]:
    facts = [("plan", plan_hash(plan)), ("model", _model_line(lock.get("model", {})))]
    facts += [("data", line) for line in _data_lines(lock, s.get("train_tokens"))]
    facts.append(("method", _method_line(plan, lock.get("method", {}))))
    facts += _training_lines(plan, s, outcome)
    device, versions = lock.get("device", {}), lock.get("versions", {})
    facts.append(
        (
            "device",
            f"{device.get('type')} {device.get('name', '')} · threads {device.get('threads')} · "
            f"torch {versions.get('torch')} · transformers {versions.get('transformers')}",
        )
    )
    if levers := lock.get("levers"):  # what precision, kernels and levers the run resolved to
        facts.append(("levers", _levers_line(levers)))
    if plan.params:
        facts.append(("params", ", ".join(f"{k} = {redact_param(k, v)}" for k, v in sorted(plan.params.items()))))
    if overridden := overrides_fact(plan):
        facts.append(overridden)
    facts.append(settings_fact(plan))
    facts.append(reproducibility_fact(lock))
    return facts


def better_direction(key: str) -> str:
    """Which way a metric improves (the catalogue's), so a reader knows whether its delta is good.
    Keys are `accuracy`, `contains("…")`, or `set/metric` for a further eval set."""
    spec = METRICS.get(key.partition("(")[0].rpartition("/")[2])
    if spec is None or spec.higher_is_better is None:
        return "—"
    return "higher" if spec.higher_is_better else "lower"


def _metric_table(outcome: Outcome, on: str, prefix: str = "") -> Table:
    """One eval set's metrics; a further set's keys carry its name as a prefix (`b.eval/loss`)."""
    examples = number(outcome.tuned.get(prefix + "examples"))
    title = f"Metrics on {on} ({examples} examples)"
    if outcome.base is not None:
        rows = [
            [
                k,
                number(outcome.base.get(prefix + k)),
                number(outcome.tuned.get(prefix + k)),
                number(outcome.delta(prefix + k), True),
                better_direction(k),
            ]
            for k in outcome.keys
        ]
        return Table(title, ["metric", "base", "tuned", "delta", "better"], rows)
    return Table(title, ["metric", "tuned"], [[k, number(outcome.tuned.get(prefix + k))] for k in outcome.keys])


def outcome_tables(outcome: Outcome) -> list[Table]:
    """Metrics base → tuned (on each eval set), gates, guards and samples, as rows of redacted text."""
    out = [_metric_table(outcome, outcome.on)] + [_metric_table(outcome, s, f"{s}/") for s in outcome.also_on]
    verdict = outcome.verdict
    if verdict.gates:
        out.append(
            Table(
                "Gates",
                ["require", "measured", "result"],
                [[g.gate, number(g.measured), "PASS" if g.passed else "FAIL"] for g in verdict.gates],
            )
        )
    if verdict.guards:
        out.append(
            Table(
                "Guards",
                ["guard", "metric", "base", "tuned", "drop", "max drop", "result"],
                [
                    [
                        g.name,
                        g.metric,
                        number(g.base),
                        number(g.tuned),
                        percent(g.drop),
                        percent(g.max_drop),
                        "PASS" if g.passed else "FAIL",
                    ]
                    for g in verdict.guards
                ],
            )
        )
    if outcome.samples:
        with_base = outcome.base is not None
        headers = ["input", "expected"] + (["base", "tuned"] if with_base else ["output"])
        out.append(
            Table(
                "Samples",
                headers,
                [
                    [_cut(p.input), _cut(p.expected)]
                    + ([_cut(p.base), _cut(p.tuned)] if with_base else [_cut(p.tuned)])
                    for p in outcome.samples
                ],
            )
        )
    return [Table(redact(t.title), t.headers, [[redact(c) for c in row] for row in t.rows]) for t in out]


def _charts(records: list[dict[str, Any]], outcome: Outcome | None) -> list[Chart]:
    def series(key: str) -> Series:
        return Series(key, [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))])

    charts = [Chart("training loss", [series("loss")]), Chart("learning rate", [series("lr")])]
    evals = [series(f"eval_{k}") for k in (outcome.keys if outcome else ["loss"])]
    return charts + [Chart(s.name.replace("_", " ", 1), [s]) for s in evals if s.points]


def collect(run_dir: Path) -> Report:
    """Everything the reports show, every text redacted (no token or password gets through)."""
    run_dir = Path(run_dir)
    plan = load_plan((run_dir / rundir.PLAN).read_text(encoding="utf-8"))
    lock = rundir.read_lock(run_dir) or {}
    summary = json.loads((run_dir / rundir.SUMMARY).read_text(encoding="utf-8"))
    outcome = read_outcome(run_dir)
    records = rundir.MetricsLog(run_dir / rundir.METRICS).read()
    judged = outcome is not None and bool(outcome.verdict.gates or outcome.verdict.guards)
    verdict = ("PASS" if outcome.passed else "FAIL") if outcome and judged else None
    return Report(
        recipe=redact(plan.recipe),
        description=redact(plan.description),
        verdict=verdict,
        facts=[(k, redact(v)) for k, v in _facts(plan, lock, summary, outcome, run_dir)],
        tables=outcome_tables(outcome) if outcome else [],
        charts=[Chart(redact(c.title), c.series) for c in _charts(records, outcome)],
        recipe_text=redact(text) if (text := recipe_text(plan, run_dir)) is not None else None,
    )
