"""The readable `ft plan` summary: what will run, on what, and roughly what it costs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ftlang.plan import hubcache
from ftlang.plan.canonical import plan_hash
from ftlang.plan.catalogue import OPTIMIZERS
from ftlang.plan.datacache import read_counts
from ftlang.plan.memory import Shape, describe, estimate, shape_of, weight_dtype
from ftlang.plan.mixture import mixture_sizes, shown
from ftlang.plan.models import (
    DataPlan,
    DpoMethod,
    GrpoMethod,
    KtoMethod,
    LoraMethod,
    OrpoMethod,
    Plan,
    RewardMethod,
    SimpoMethod,
)

from .modelpeek import model_facts


def _count_rows(plan: Plan, data: DataPlan) -> int | None:
    source = data.source
    if source.kind == "rows":
        return len(source.rows)
    if source.kind == "hf":
        found = hubcache.find(source.id, source.config, source.commit or source.revision).found
        return found.rows_in(source.split) if found else None
    path = Path(plan.root) / source.path
    if source.kind == "jsonl" and path.is_file():
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    if source.kind == "csv" and path.is_file():
        with path.open("rb") as handle:
            return max(sum(1 for _ in handle) - 1, 0)
    return None


def _cost_lines(plan: Plan, shape: Shape | None, train_rows: int | None) -> list[str]:
    """Memory per device (plan/memory.py), and training FLOPs (6·N per token for full
    fine-tuning, 4·N when the base is frozen), counting every example at its `max_len` bound."""
    if shape is None:
        return []
    devices = ["cpu"] if plan.compute.device == "cpu" else ["cuda"]
    lines = [f"  memory   {describe(estimate(plan, shape, device), device)}" for device in devices]
    if train_rows:
        tokens = train_rows * plan.train.epochs * plan.train.max_len
        flops = (6 if plan.method.kind == "full" else 4) * shape.params * tokens
        lines.append(f"  cost     ≤ {tokens / 1e6:.2f} M tokens, ≈ {flops / 1e12:.3g} TFLOP")
    return lines


def _auto_dtype(plan: Plan) -> str:
    """What `dtype = auto` loads the weights as, from the one resolution the memory estimate reads."""
    gpu, cpu = weight_dtype(plan, "cuda"), weight_dtype(plan, "cpu")
    return f"auto ({gpu})" if gpu == cpu else f"auto ({gpu} on a GPU, {cpu} on a CPU)"


def _levers_line(plan: Plan) -> str:
    """The speed and memory levers, with what `auto` becomes on a GPU and on a CPU."""
    c, t, m = plan.compute, plan.train, plan.model
    auto = {
        "precision": "auto (bf16 on a GPU, fp32 on a CPU)",
        "dtype": _auto_dtype(plan),
        "attention": "auto (flash or flex on a GPU, sdpa on a CPU)",
    }
    chosen = {"precision": c.precision, "dtype": m.dtype, "attention": c.attention}
    parts = [f"{name} {auto[name] if value == 'auto' else value}" for name, value in chosen.items()]
    spec = OPTIMIZERS[t.optimizer.kind]
    parts.append(f"optimizer {spec.name}(" + ", ".join(f"{s} {getattr(t.optimizer, s)}" for s in spec.settings) + ")")
    switches = {"checkpointing": t.gradient_checkpointing, "compile": c.compile, "cpu offload": c.offload}
    parts += [name for name, on in switches.items() if on]
    parts += [f"quantize {m.quantize}"] * bool(m.quantize) + [f"kernels {c.kernels}"] * (c.kernels != "none")
    parts += ["no tf32"] * (not c.tf32)
    return "  levers   " + " · ".join(parts)


def _model_shape(plan: Plan) -> Shape | None:
    facts = model_facts(plan.model.source.model_dump(), Path(plan.root))
    return shape_of(facts.model_type, facts.config) if facts else None


def _model_params(plan: Plan) -> int | None:
    shape = _model_shape(plan)
    return shape.params if shape else None


def _model_line(plan: Plan) -> str:
    source = plan.model.source
    if source.kind == "hf":
        what = f"{source.id}" + (f" @{source.revision}" if source.revision else " (no revision pinned)")
    elif source.kind == "local":
        what = f"local {source.path}"
    elif source.kind == "package":
        what = f"package {source.name}"
    else:
        what = f"scratch {source.arch} {source.layers}×{source.hidden} (heads {source.heads}, vocab {source.vocab})"
    params = _model_params(plan)
    if params:
        what += f" ≈ {params / 1e6:.2f} M params"
    method = plan.method
    lora = method if isinstance(method, LoraMethod) else getattr(method, "adapter", None)
    tuned = _lora_text(lora) if lora else "all weights"
    if (preference := _preference_text(method)) is not None:
        tuned = f"{preference}, {tuned}"
    if isinstance(method, DpoMethod):
        tuned = f"DPO β={method.beta:g} ({method.loss}), {tuned}"
    if isinstance(method, GrpoMethod):
        rewards = " + ".join(
            f"{r.weight:g}·{r.kind}"
            + (f"({r.field or r.pattern or r.max or r.name})" if (r.field or r.pattern or r.max or r.name) else "")
            for r in method.rewards
        )
        tuned = f"GRPO groups of {method.group_size}, reward {rewards}, {tuned}"
    flag = "   ⚠ trust_remote_code" if plan.model.trust_remote_code else ""
    return f"  model    {what}; {tuned}{flag}"


def _lora_text(lora: LoraMethod) -> str:
    targets = "all linear layers" if lora.targets == "all_linear" else ",".join(lora.targets) or "default modules"
    options = [name for name, on in (("DoRA", lora.dora), ("rsLoRA", lora.rslora)) if on]
    options += [f"init {lora.init}"] if lora.init != "default" else []
    return f"LoRA r={lora.rank} α={lora.alpha:g} on {targets}" + (f" ({', '.join(options)})" if options else "")


def _preference_text(method: Any) -> str | None:
    """The parameters of the preference methods that have no line of their own."""
    if isinstance(method, KtoMethod):
        return f"KTO β={method.beta:g} (λ_D {method.desirable_weight:g}, λ_U {method.undesirable_weight:g})"
    if isinstance(method, OrpoMethod):
        return f"ORPO λ={method.lambda_:g}"
    if isinstance(method, SimpoMethod):
        return f"SimPO β={method.beta:g} γ={method.gamma:g}"
    if isinstance(method, RewardMethod):
        return "reward model (Bradley–Terry, scalar head)" + (f", center {method.center:g}" if method.center else "")
    return None


def _stages(counted: dict[str, Any]) -> str:
    """Rows per stage, as the last run of the same declaration and data counted them."""
    s = counted["stats"]
    splits = " · ".join(f"{k.removeprefix('split_')} {v:,}" for k, v in sorted(s.items()) if k.startswith("split_"))
    line = f"read {s['read']:,} → where {s.get('after_where', s['read']):,} → kept {s['kept']:,} → {splits}"
    tokens = counted.get("tokens") or {}
    if tokens:
        shown = ", ".join(f"{n:,} in {part}" for part, n in sorted(tokens.items()))
        line += f"; tokens {shown} (max_len {counted.get('max_len')})"
    return line + " — counted by the last run"


def _where(data: DataPlan) -> str:
    source = data.source
    if source.kind == "rows":
        return "inline rows"
    if source.kind == "hf":
        config = f" ({source.config})" if source.config else ""
        commit = f" @ {source.commit[:12]}" if source.commit else ""
        return f"hf {source.id}{config} [{source.split}]{commit}"
    return source.path


def _mixture(plan: Plan, available: dict[str, int]) -> tuple[int | None, list[str]]:
    """The training rows an epoch takes, and for a mixture a line of each source's rows."""
    refs = plan.train.data
    if len(available) < len(refs):
        return None, []
    sizes = mixture_sizes([available[shown(r)] for r in refs], refs)
    if len(refs) == 1 and refs[0].weight is None and refs[0].max_rows is None:
        return sizes[0], []
    parts = [
        f"{shown(r)} {n:,} rows"
        + (f" (max_rows {r.max_rows:,})" if r.max_rows else "")
        + (f" weight {r.weight:g}" if r.weight else "")
        for r, n in zip(refs, sizes)
    ]
    return sum(sizes), [f"  mix      {' + '.join(parts)} = {sum(sizes):,} rows an epoch (seed {plan.train.seed})"]


def _prompt_line(plan: Plan) -> str:
    p = plan.prompt
    line = f"  prompt   {p.name}: {p.task} using {', '.join(p.fields)}"
    if p.task == "chat":
        template = "custom jinja" if p.template.name == "custom" else p.template.name
        turns = f"turns from `{p.messages.field}` · " if p.messages else ""
        line += f" · {turns}template {template} · trains on {p.train_on} turns"
    return line


def summarize(plan: Plan) -> str:
    lines = [f"{plan.recipe}  plan {plan_hash(plan)[:12]}…" + (f"  — {plan.description}" if plan.description else "")]
    lines.append(_model_line(plan))
    available: dict[str, int] = {}
    for index, data in enumerate(plan.data):
        lines += _data_lines(plan, data, index, available)
    train_rows, mix_line = _mixture(plan, available)
    lines += mix_line
    lines.append(_prompt_line(plan))
    lines.append(_train_line(plan, train_rows))
    lines += _eval_lines(plan)
    lines.append(_levers_line(plan))
    lines += _cost_lines(plan, _model_shape(plan), train_rows)
    c, t = plan.compute, plan.train
    if c.processes > 1 or c.precision != "auto":
        per_process = t.micro_batch or max(t.batch // c.processes, 1)
        accumulation = max(t.batch // (per_process * c.processes), 1)
        lines.append(
            f"  compute  {c.processes} process(es), {c.strategy if c.processes > 1 else 'single'}, "
            f"precision {c.precision}, backend {c.backend}; global batch {t.batch} = micro-batch "
            f"{per_process} × {c.processes} process(es) × accumulation {accumulation}"
        )
    return "\n".join(lines) + "\n"


def _data_lines(plan: Plan, data: DataPlan, index: int, available: dict[str, int]) -> list[str]:
    """One data declaration's line (and its stage counts when cached); the rows each training
    reference can draw go into `available`."""
    rows = _count_rows(plan, data)
    sha256 = getattr(data.source, "sha256", None)
    pin = f" sha256 {sha256[:8]}…" if sha256 else ""
    parts = " · ".join(f"{name} {frac * 100:g}%" for name, frac in data.split.parts.items())
    count = f"{rows:,} rows → " if rows is not None else ""
    extra = (f", {len(data.where)} filter(s)" if data.where else "") + (
        f", dedupe {','.join(data.dedupe)}" if data.dedupe else ""
    )
    lines = [
        f"  {'data' if index == 0 else '    '}     {data.name}  {_where(data)}{pin}  {count}{parts} "
        f"(seed {data.split.seed}){extra}"
    ]
    counted = read_counts(data.model_dump(mode="json", exclude={"fields"}))
    if counted and "stats" in counted:
        lines.append(f"           {_stages(counted)}")
    for ref in plan.train.data:
        if data.name == ref.data and rows is not None:
            available[shown(ref)] = int(rows * data.split.parts.get(ref.split or "", 1.0))
    return lines


def _train_line(plan: Plan, train_rows: int | None) -> str:
    t = plan.train
    steps = ""
    if t.max_steps:
        steps = f" · {t.max_steps} steps"
    elif train_rows:
        steps = f" · ≈ {max(1, math.ceil(max(train_rows // t.batch, 1) * t.epochs))} steps (before filters)"
    warmup = (
        f", warm-up {t.schedule.warmup * 100:g}%"
        if 0 < t.schedule.warmup < 1
        else (f", warm-up {t.schedule.warmup:g} steps" if t.schedule.warmup else "")
    )
    micro = f" (micro-batch {t.micro_batch})" if t.micro_batch else ""
    return (
        f"  train    {t.epochs:g} epoch(s){steps} · lr {t.lr:g} {t.schedule.kind}{warmup} · batch "
        f"{t.batch}{micro} · max_len {t.max_len}{' · packed' if t.pack else ''} · seed {t.seed}"
    )


def _eval_lines(plan: Plan) -> list[str]:
    e = plan.eval
    if not e:
        return []
    on = shown(e.on) + "".join(f", {shown(ref)}" for ref in e.also_on)
    metrics = ", ".join(m.name + (f"({json.dumps(m.arg)})" if m.arg else "") for m in e.metrics)
    base = "; before/after vs base" if e.compare_base else ""
    guards = "".join(f"; guard {g.name} (max drop {g.max_drop * 100:g}%)" for g in e.guards)
    lines = [f"  eval     {metrics} on {on}{base}{guards}"]
    if e.require:
        gates = ", ".join(f"{'delta(' + g.metric + ')' if g.delta else g.metric} {g.op} {g.value:g}" for g in e.require)
        lines.append(f"  gates    {gates}")
    return lines
