"""Run a Plan end to end: data, prompts, model, method, loop, checkpoints and the run directory."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ftlang.plan.models import DpoMethod, GrpoMethod, Plan, ScratchModel
from ftlang.runtime import rundir
from ftlang.runtime.data.batching import Collator, pack, singles
from ftlang.runtime.data.prompts import Rendered, Renderer, infer_labels, plain_text, tokenize
from ftlang.runtime.data.sources import LoadedData, load_data, select
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation.during_run import RunEvaluation, make_suite
from ftlang.runtime.evaluation.during_run import prepare as prepare_eval
from ftlang.runtime.evaluation.outcome import Outcome
from ftlang.runtime.methods.adapters import apply_method, check_method
from ftlang.runtime.methods.dpo import dpo_workload
from ftlang.runtime.methods.grpo import grpo_workload
from ftlang.runtime.methods.rewards import reward_fields
from ftlang.runtime.methods.workload import Workload
from ftlang.runtime.models import (
    ModelSource,
    build_scratch_model,
    load_pretrained,
    load_tokenizer,
    max_positions,
    model_identity,
    resolve_source,
    train_scratch_tokenizer,
)
from ftlang.runtime.quiet import quiet_libraries
from ftlang.runtime.report.write import write_reports
from ftlang.runtime.train import checkpoint as ckpt
from ftlang.runtime.train import distributed
from ftlang.runtime.train.launch import check_resume_world
from ftlang.runtime.train.loop import (
    DataOrder,
    Hooks,
    LoopConfig,
    LoopState,
    lm_objective,
    make_optimizer,
    make_scheduler,
    train,
    warmup_steps,
)
from ftlang.runtime.train.progress import Progress


@dataclass(frozen=True)
class RunResult:
    """What `ft run` reports: where the run lives, its last training loss, and a summary."""

    run_dir: Path
    final_loss: float
    steps: int
    metrics: Mapping[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None  # the eval block's verdict; None without one


def run_plan(plan: Plan, out_dir: Path | None = None, *, resume: Path | None = None, quiet: bool = False) -> RunResult:
    """Execute `plan`; with `resume`, continue the run in that directory from its last checkpoint.

    User-facing failures raise RunError before any model loads where they can (bad data,
    missing files, unsupported method); anything else is a bug.
    """
    check_method(plan.method, plan.prompt.task)
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    try:
        with quiet_libraries(), distributed.session(plan):
            return _run(plan, out_dir, resume, quiet)
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def cpu_threads() -> int:
    """Intra-op threads for a CPU run: all usable cores but one, unless OMP_NUM_THREADS says.

    On a 2-core machine that other processes also use, two OpenMP threads wait on each
    other at every barrier: the quickstart measured 3x slower with 2 threads than with 1.
    Leaving a core free costs little on a quiet machine and avoids that cliff.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(torch.get_num_threads(), cores - 1))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _check_labels(
    rendered: list[Rendered], labels: list[str], skip: bool, skipped: list[dict[str, str]]
) -> list[Rendered]:
    known = set(labels)
    out = []
    for r in rendered:
        if r.label in known:
            out.append(r)
            continue
        reason = f"label `{r.label}` is not one of the prompt's labels ({', '.join(labels)})"
        if not skip:
            raise RunError(reason, location=r.origin, help="fix the row, or add the label to the prompt")
        skipped.append({"location": r.origin, "reason": reason})
    return out


def _load_all(
    plan: Plan,
) -> tuple[dict[str, LoadedData], list[Rendered], list[Rendered], list[str] | None, list[dict[str, str]]]:
    """Data and templates: every row-level failure surfaces here, before a model loads."""
    root = Path(plan.root)
    by_name = {d.name: d for d in plan.data}
    refs = [plan.train.data] + ([plan.eval.on] if plan.eval else [])
    loaded: dict[str, LoadedData] = {}
    for ref in refs:
        if ref.data not in by_name:
            raise RunError(f"no data named `{ref.data}`", help=f"declared: {', '.join(by_name)}")
        if ref.data not in loaded:
            loaded[ref.data] = load_data(by_name[ref.data], root, plan.prompt.fields + reward_fields(plan.method))
    renderer = Renderer(plan.prompt)
    skipped: list[dict[str, str]] = []
    train_skip = by_name[plan.train.data.data].bad_rows == "skip"
    train_r, s = renderer.render_all(select(loaded, plan.train.data), train_skip)
    skipped += s
    eval_r: list[Rendered] = []
    eval_skip = False
    if plan.eval:
        eval_skip = by_name[plan.eval.on.data].bad_rows == "skip"
        eval_r, s = renderer.render_all(select(loaded, plan.eval.on), eval_skip)
        skipped += s
    labels = None
    if plan.prompt.task == "classification":
        labels = list(plan.prompt.labels) if plan.prompt.labels else infer_labels(train_r)
        train_r = _check_labels(train_r, labels, train_skip, skipped)
        eval_r = _check_labels(eval_r, labels, eval_skip, skipped)
        if len(labels) < 2:
            raise RunError(
                f"classification needs at least two labels, the training rows have {len(labels)}",
                location=f"prompt `{plan.prompt.name}`",
            )
    if not train_r:
        raise RunError(
            f"no training rows left in `{plan.train.data.data}` after filters and splits",
            help="check the where filters and the split fractions",
        )
    return loaded, train_r, eval_r, labels, skipped


def _check_same_data(run_dir: Path, loaded: dict[str, LoadedData]) -> None:
    lock = rundir.read_lock(run_dir)
    if not lock:
        return
    before = {(f["path"], f["sha256"]) for d in lock.get("data", []) for f in d.get("files", [])}
    now = {(f["path"], f["sha256"]) for d in loaded.values() for f in d.files}
    if before != now:
        raise RunError(
            "the data changed since this run started; resuming would mix two datasets",
            location=str(run_dir),
            help="restore the data, or start a new run",
        )


def _save_dir_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Write a folder beside the target, then swap it in: a kill never leaves half a model."""
    tmp, old = target.with_name(f".tmp-{target.name}"), target.with_name(f".old-{target.name}")
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    write(tmp)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)


def _load_model(
    plan: Plan, run_dir: Path, task: str, labels: list[str] | None, train_r: list[Rendered]
) -> tuple[Any, Any, dict[str, Any]]:
    seed = plan.train.seed
    src = plan.model.source
    if isinstance(src, ScratchModel):
        base = run_dir / rundir.BASE
        if distributed.is_main() and not (base / "config.json").exists():  # resumed runs reuse it
            tok = train_scratch_tokenizer([plain_text(r) for r in train_r], src.vocab)
            model = build_scratch_model(src, tok, task, seed, labels)
            _save_dir_atomic(base, lambda d: (model.save_pretrained(d), tok.save_pretrained(d)))
        distributed.barrier()
        # Fresh and resumed runs both train the model read back from base/: one code path.
        ms = ModelSource(str(base), None, {})
        tok = load_tokenizer(plan.model, ms)
        model = load_pretrained(plan.model, ms, task, seed, labels)
        return model, tok, model_identity(plan.model, None, model, base)
    ms = resolve_source(plan.model, Path(plan.root))
    assert ms is not None
    tok = load_tokenizer(plan.model, ms)
    model = load_pretrained(plan.model, ms, task, seed, labels)
    return model, tok, model_identity(plan.model, ms, model, None)


class _RunHooks(Hooks):
    def __init__(self, metrics: rundir.MetricsLog, progress: Progress, evaluation: RunEvaluation | None, save):
        self.metrics, self.bar, self._evaluation, self._save = metrics, progress, evaluation, save

    def log(self, record: dict[str, Any]) -> None:
        if distributed.is_main():
            self.metrics.write(record)

    def evaluate(self, step: int) -> dict[str, float] | None:
        return self._evaluation.during(step) if self._evaluation else None

    def stop(self) -> bool:
        return self._evaluation is not None and self._evaluation.should_stop

    def checkpoint(self, state: LoopState) -> None:
        self._save(state)

    def progress(self, state: LoopState, loss: float | None, tok_s: float | None) -> None:
        self.bar.update(state.step, loss, tok_s)


def _open_run_dir(
    plan: Plan, out_dir: Path | None, resume: Path | None, loaded: dict[str, LoadedData]
) -> tuple[Path, int | None]:
    """The run directory, new or resumed, and the thread count a resumed CPU run must reuse."""
    if resume is None:
        run_dir = Path(out_dir) if out_dir else rundir.default_run_dir(plan)
        rundir.check_free(run_dir)
        distributed.barrier()  # every rank looked before rank 0 writes: they fail alike, or not
        return (rundir.create(run_dir, plan) if distributed.is_main() else run_dir), None
    run_dir = Path(resume)
    check_resume_world(run_dir, plan.compute.processes)
    rundir.check_resumable(run_dir, plan)
    _check_same_data(run_dir, loaded)
    lock = rundir.read_lock(run_dir)
    if lock and lock.get("device", {}).get("type") == "cpu":
        # The same intra-op thread count as the start keeps CPU float sums bit-identical.
        return run_dir, int(lock["device"]["threads"])
    return run_dir, None


def _discard(run_dir: Path, existed: bool) -> None:
    """Undo a new run directory when setup fails (e.g. the hub is unreachable): no husks."""
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for name in (rundir.PLAN, rundir.LOCK):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / rundir.BASE, ignore_errors=True)


def _run(plan: Plan, out_dir: Path | None, resume: Path | None, quiet: bool) -> RunResult:
    task = plan.prompt.task
    loaded, train_r, eval_r, labels, skipped = _load_all(plan)
    inputs = prepare_eval(plan, eval_r, labels)
    target = Path(resume or out_dir or distributed.broadcast(rundir.default_run_dir(plan)))
    existed = target.exists()
    run_dir, threads = _open_run_dir(plan, target if resume is None else None, resume, loaded)

    seed_everything(plan.train.seed)
    device = distributed.device()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)  # bit-identical reruns and resumes on CPU
        torch.set_num_threads(threads or cpu_threads())
    try:
        model, tok, identity = _load_model(plan, run_dir, task, labels, train_r)
    except RunError:
        if resume is None and distributed.is_main():
            _discard(run_dir, existed)
        raise
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False  # training never generates; no KV cache to build

    limit = max_positions(model)
    max_len = min(plan.train.max_len, limit) if limit else plan.train.max_len
    pad_id = next(i for i in (tok.pad_token_id, tok.eos_token_id, 0) if i is not None)
    model.to(device)
    if isinstance(plan.method, (DpoMethod, GrpoMethod)):
        build = dpo_workload if isinstance(plan.method, DpoMethod) else grpo_workload
        work = build(plan, model, tok, train_r, eval_r, max_len, pad_id, device)
    else:
        work = _sft_workload(plan, model, tok, train_r, eval_r, labels, max_len, pad_id)
    model, minfo, items = work.model, work.method, work.items
    trainee = distributed.wrap(model, plan.compute.strategy)  # DDP, FSDP, or the model itself
    cfg = LoopConfig.from_plan(plan.train, len(items), distributed.size())
    optimizer = make_optimizer(model, plan.train.lr, plan.train.weight_decay)
    scheduler = make_scheduler(
        optimizer, cfg.total_steps, warmup_steps(plan.train.schedule, cfg.total_steps), plan.train.schedule.kind
    )
    state = LoopState(DataOrder(len(items), plan.train.seed), rng=work.rng)

    if distributed.is_main() and (resume is None or rundir.read_lock(run_dir) is None):
        guard_data = [g.data for g in inputs.guards] if inputs else []
        data_lock = [
            {"name": d.name, "files": d.files, "stats": d.stats, "skipped": d.skipped}
            for d in [*loaded.values(), *guard_data]
        ]
        rundir.write_json(
            run_dir / rundir.LOCK,
            rundir.build_lock(plan, data_lock, identity, minfo.as_dict(), device, skipped_rendering=skipped[:20]),
        )

    metrics = rundir.MetricsLog(run_dir / rundir.METRICS)
    found = ckpt.latest_checkpoint(run_dir) if resume is not None else None
    if found is not None:
        ckpt.load_checkpoint(found, model, optimizer, scheduler, state, device)
        if distributed.is_main():
            metrics.truncate_after(state.step)
    elif resume is not None and distributed.is_main():
        metrics.truncate_after(-1)  # nothing to continue from: start over in the same place

    evaluation = (
        RunEvaluation(
            plan,
            inputs,
            model,
            make_suite(plan, inputs, model, tok, max_len=max_len, device=device),
            work.evaluate,
            run_dir,
        )
        if inputs
        else None
    )
    if evaluation and found is None:
        base = evaluation.before_training()
        if base and distributed.is_main():
            metrics.write({"step": 0, "epoch": 0.0, **base})  # the base model, before any step
    elif evaluation:
        # Early stopping's count as of the checkpoint, from rank 0's records on every rank.
        evaluation.resume(distributed.broadcast(metrics.read()))

    def save(st: LoopState) -> None:
        ckpt.save_checkpoint(run_dir, model, optimizer, scheduler, st, round(st.step / cfg.steps_per_epoch, 4))

    progress = Progress(plan.recipe, cfg.total_steps, state.step, quiet=quiet or not distributed.is_main())
    with progress:
        state = train(
            trainee,
            items,
            task=task,
            collator=work.collator,
            cfg=cfg,
            optimizer=optimizer,
            scheduler=scheduler,
            state=state,
            device=device,
            hooks=_RunHooks(metrics, progress, evaluation, save),
            objective=work.objective,
        )
    # keep_best restores here; rank 0's records, as another rank may read the file mid-write.
    outcome = evaluation.finish(distributed.broadcast(metrics.read())) if evaluation else None

    gathered = distributed.model_state(model)  # FSDP's shards, whole on rank 0

    def write_model(d: Path) -> None:
        model.save_pretrained(d, state_dict=gathered)
        tok.save_pretrained(d)

    if not distributed.is_main():  # rank 0 alone writes the model, summary and reports
        return RunResult(run_dir, float(state.last_loss or 0.0), state.step)
    _save_dir_atomic(run_dir / rundir.MODEL, write_model)

    summary: dict[str, Any] = {
        "final_loss": state.last_loss,
        "steps": state.step,
        "total_steps": cfg.total_steps,
        "epochs": round(state.step / cfg.steps_per_epoch, 4),
        "tokens": state.tokens,
        "elapsed": round(state.elapsed, 3),
        "tok_s": round(state.tokens / max(state.elapsed, 1e-9), 1),
        "padding": round(1 - state.tokens / max(1, state.positions), 4),
        "max_len": max_len,
        "sequences": len(items),
        "labels": labels,
        "bad_rows_skipped": sum(d.stats["bad_rows_skipped"] for d in loaded.values()) + len(skipped),
        "method": minfo.as_dict(),
        **work.summary,
        **_eval_summary(metrics.read()),
        **(outcome.summary() if outcome else {}),
    }
    rundir.write_json(run_dir / rundir.SUMMARY, summary)
    if outcome:
        outcome.write(run_dir)
    write_reports(run_dir)
    progress.final_line(_final_line(plan.recipe, summary, run_dir))
    return RunResult(run_dir, float(state.last_loss or 0.0), state.step, summary, outcome)


def _sft_workload(
    plan: Plan,
    model: Any,
    tok: Any,
    train_r: list[Rendered],
    eval_r: list[Rendered],
    labels: list[str] | None,
    max_len: int,
    pad_id: int,
) -> Workload:
    """Supervised fine-tuning (full or LoRA): tokenised examples, packed or one per sequence."""
    task = plan.prompt.task
    train_ex, tstats = tokenize(train_r, tok, task, max_len, labels)
    eval_ex, estats = tokenize(eval_r, tok, task, max_len, labels)
    if not train_ex:
        raise RunError(
            f"every training example lost its target to truncation at max_len {max_len}",
            help="raise max_len or shorten the prompt",
        )
    model, minfo = apply_method(model, plan.method, task)
    packed = plan.train.pack and task != "classification"
    items = pack(train_ex, max_len) if packed else singles(train_ex)
    attn = getattr(model.config, "_attn_implementation", None)
    collator = Collator(task, pad_id, packed, attn, next(model.parameters()).dtype)
    # The eval block's Evaluator (run_eval.py) measures supervised runs: no metrics of its own.
    return Workload(
        model,
        minfo,
        items,
        collator,
        lm_objective(task),
        None,
        summary={
            "train_examples": len(train_ex),
            "eval_examples": len(eval_ex),
            "packed": packed,
            "truncated": tstats.truncated + estats.truncated,
            "dropped_no_target": tstats.dropped_no_target + estats.dropped_no_target,
        },
    )


def _eval_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The last evaluation, and the base model's (step 0) when it was measured."""
    evals = [r for r in records if "eval_examples" in r]
    out: dict[str, Any] = {}
    if evals:
        out.update({k: v for k, v in evals[-1].items() if k.startswith("eval_")})
        if evals[0]["step"] == 0 and len(evals) > 1:
            out.update({"base_" + k: v for k, v in evals[0].items() if k.startswith("eval_")})
    return out


def _final_line(recipe: str, s: dict[str, Any], run_dir: Path) -> str:
    parts = [f"{recipe}: {s['steps']} steps in {s['elapsed']:.1f}s", f"loss {s['final_loss']:.4f}"]
    if "eval_loss" in s:
        parts.append(f"eval_loss {s['eval_loss']:.4f}")
    if "eval_accuracy" in s:
        base = f" (base {s['base_eval_accuracy']:.3f})" if "base_eval_accuracy" in s else ""
        parts.append(f"eval_accuracy {s['eval_accuracy']:.3f}{base}")
    return ", ".join(parts) + f" -> {run_dir}"
