"""Run a Plan end to end: data, run directory, model, method, loop, then model, summary and reports."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.models import Plan
from ftlang.runtime import rundir
from ftlang.runtime.data.rows import RunRows, load_rows
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation.during_run import EvalInputs, RunEvaluation, make_suite
from ftlang.runtime.evaluation.during_run import prepare as prepare_eval
from ftlang.runtime.evaluation.outcome import Outcome
from ftlang.runtime.export import make_adapter_portable, portable_base
from ftlang.runtime.methods.adapters import check_method
from ftlang.runtime.methods.build import build_workload
from ftlang.runtime.methods.reward_scorer import reward_model_pins
from ftlang.runtime.methods.rewards import reward_fields
from ftlang.runtime.methods.workload import Workload
from ftlang.runtime.models import load_for_run, pad_token_id, sequence_length, tokenizer_folder
from ftlang.runtime.pins import determinism_settings, gpu_stack, tokenizer_pins
from ftlang.runtime.quiet import quiet_libraries
from ftlang.runtime.report.record import keep_recipe
from ftlang.runtime.report.summary import eval_summary, final_line, training_summary
from ftlang.runtime.report.trackers import open_trackers
from ftlang.runtime.report.write import write_reports
from ftlang.runtime.train import checkpoint as ckpt
from ftlang.runtime.train import distributed, levers
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.determinism import settle, torch_settings_restored
from ftlang.runtime.train.fits import check_fits
from ftlang.runtime.train.hooks import RunHooks
from ftlang.runtime.train.levers import Levers
from ftlang.runtime.train.loop import LoopConfig, LoopState, train
from ftlang.runtime.train.master_weights import MasterWeights
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.precision import apply_tf32
from ftlang.runtime.train.progress import Progress
from ftlang.runtime.train.schedule import make_scheduler, warmup_steps


@dataclass(frozen=True)
class RunResult:
    """What `ft run` reports: where the run lives, its last training loss, and a summary."""

    run_dir: Path
    final_loss: float
    steps: int
    metrics: Mapping[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None  # the eval block's verdict; None without one


@dataclass
class _Run:
    """One run's parts once its model and method are set up: what the loop and the end need."""

    plan: Plan
    run_dir: Path
    rows: RunRows
    work: Workload
    trainee: torch.nn.Module  # what the loop steps: the model, or its DDP/FSDP wrapper
    tokenizer: Any
    max_len: int
    device: torch.device
    cfg: LoopConfig
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    state: LoopState
    metrics: rundir.MetricsLog
    levers: Levers  # precision, attention kernel and the rest, resolved for the device
    masters: MasterWeights | None  # the float32 weights the optimizer steps under `bf16_master`

    def save(self, state: LoopState) -> None:
        epoch = round(state.step / self.cfg.steps_per_epoch, 4)
        ckpt.save_checkpoint(self.run_dir, self.work.model, self.optimizer, self.scheduler, state, epoch)


def run_plan(
    plan: Plan,
    out_dir: Path | None = None,
    *,
    resume: Path | None = None,
    quiet: bool = False,
    stop_after: int | None = None,
) -> RunResult:
    """Execute `plan`; with `resume`, continue the run in that directory from its last checkpoint.

    `stop_after` ends training after that many steps of the plan's own schedule (a cheap check
    of a long run's start, for `ft reproduce --steps`).

    User-facing failures raise RunError before any model loads where they can (bad data,
    missing files, unsupported method); anything else is a bug.
    """
    check_method(plan.method, plan.prompt.task)
    with torch_settings_restored(), quiet_libraries(), distributed.session(plan), rundir.writing() as held:
        return _run(plan, out_dir, resume, quiet, stop_after, held)


def _run(
    plan: Plan, out_dir: Path | None, resume: Path | None, quiet: bool, stop_after: int | None, held: ExitStack
) -> RunResult:
    rows = load_rows(plan, reward_fields(plan.method), quiet=quiet or not distributed.is_main())
    inputs = prepare_eval(plan, rows.eval, rows.labels, rows.eval_sets)
    target = Path(resume or out_dir or distributed.broadcast(rundir.default_run_dir(plan)))
    existed = target.exists()
    # The guards' files too: the lock lists them, so a resume compares like with like.
    guards = [g.data for g in inputs.guards] if inputs else []
    data_files = [f for d in [*rows.loaded.values(), *guards] for f in d.files]
    device = distributed.device(plan.compute.device)
    # What this device cannot run, or could not hold, stops here, before any model loads.
    run_levers = levers.resolve(plan, device)
    check_fits(plan, device)
    run_dir, threads = rundir.open_run_dir(plan, target if resume is None else None, resume, data_files, held)
    settle(device, plan.train.seed, threads, plan.compute.deterministic)
    apply_tf32(run_levers.precision)
    try:
        model, tok, identity = load_for_run(plan, run_dir, rows.labels, rows.train, run_levers)
    except RunError:
        if resume is None and distributed.is_main():
            rundir.discard(run_dir, existed)
        raise
    run = _set_up(plan, run_dir, rows, model, tok, run_levers)
    if distributed.is_main() and (resume is None or rundir.read_lock(run_dir) is None):
        _write_lock(run, inputs, identity)
    found = _restore(run, resume)
    evaluation = _evaluation(run, inputs, resumed=found)
    progress = Progress(plan.recipe, run.cfg.total_steps, run.state.step, quiet=quiet or not distributed.is_main())
    with progress:
        run.state = train(
            run.trainee,
            run.work.items,
            task=plan.prompt.task,
            collator=run.work.collator,
            cfg=run.cfg,
            optimizer=run.optimizer,
            scheduler=run.scheduler,
            state=run.state,
            device=device,
            hooks=RunHooks(run.metrics, progress, evaluation, run.save, stop_after),
            objective=run.work.objective,
            precision=run.levers.precision,
            masters=run.masters,
        )
    # keep_best restores here; rank 0's records, as another rank may read the file mid-write.
    # A run cut short by `stop_after` checks only its first steps: it has no final evaluation.
    finished = evaluation is not None and stop_after is None
    outcome = evaluation.finish(distributed.broadcast(run.metrics.read())) if finished else None
    return _finish(run, outcome, progress)


def _set_up(plan: Plan, run_dir: Path, rows: RunRows, model: Any, tok: Any, run_levers: Levers) -> _Run:
    """The method's workload on the device, and the optimizer, schedule and state that train it."""
    max_len = sequence_length(model, plan.train.max_len)
    device = run_levers.device
    if not run_levers.quantize:  # a quantized model is placed on its device as it loads
        model.to(device)
    work = build_workload(plan, model, tok, rows, max_len, pad_token_id(tok), device, run_levers.precision)
    # Before the optimizer: FSDP swaps parameters.
    trainee = distributed.wrap(work.model, plan.compute.strategy, plan.compute.offload)
    cfg = LoopConfig.from_plan(plan.train, len(work.items), distributed.size())
    masters = MasterWeights(work.model.parameters()) if run_levers.precision.master_weights else None
    optimizer = make_optimizer(work.model, plan.train.lr, plan.train.weight_decay, plan.train.optimizer, masters)
    warmup = warmup_steps(plan.train.schedule, cfg.total_steps)
    scheduler = make_scheduler(optimizer, cfg.total_steps, warmup, plan.train.schedule.kind)
    state = LoopState(DataOrder(len(work.items), plan.train.seed), seeds=work.seeds)
    trackers = open_trackers(plan, run_dir) if distributed.is_main() else None
    metrics = rundir.MetricsLog(run_dir / rundir.METRICS, trackers)
    return _Run(
        plan,
        run_dir,
        rows,
        work,
        trainee,
        tok,
        max_len,
        device,
        cfg,
        optimizer,
        scheduler,
        state,
        metrics,
        run_levers,
        masters,
    )


def _write_lock(run: _Run, inputs: EvalInputs | None, identity: dict[str, Any]) -> None:
    """lock.json: the data files and their stats, the model's identity, the method and the device."""
    guard_data = [g.data for g in inputs.guards] if inputs else []
    data_lock = [
        {"name": d.name, "files": d.files, "stats": d.stats, "skipped": d.skipped}
        for d in [*run.rows.loaded.values(), *guard_data]
    ]
    lock = rundir.build_lock(
        run.plan, data_lock, identity, run.work.method.as_dict(), run.device, skipped_rendering=run.rows.skipped[:20]
    )
    lock["levers"] = run.levers.as_dict()
    lock["tokenizer"] = tokenizer_pins(run.tokenizer, tokenizer_folder(run.plan, run.run_dir))
    lock["determinism"] = determinism_settings()
    if pins := reward_model_pins(run.plan):  # GRPO's reward models: their weights shape every reward
        lock["reward_models"] = pins
    keep_recipe(run.plan, run.run_dir)
    if gpu := gpu_stack(run.device):
        lock["gpu"] = gpu
    rundir.write_json(run.run_dir / rundir.LOCK, lock)


def _restore(run: _Run, resume: Path | None) -> bool:
    """A resumed run continues from its last checkpoint; whether there was one."""
    if resume is None:
        return False
    found = ckpt.usable_checkpoint(run.run_dir)  # the newest whose checksums hold
    if found is not None:
        ckpt.load_checkpoint(found, run.work.model, run.optimizer, run.scheduler, run.state, run.device)
        if distributed.is_main():
            run.metrics.truncate_after(run.state.step)
        return True
    if distributed.is_main():
        run.metrics.truncate_after(-1)  # nothing to continue from: start over in the same place
    return False


def _evaluation(run: _Run, inputs: EvalInputs | None, *, resumed: bool) -> RunEvaluation | None:
    """The eval block during the run: the base model measured first, or the count resumed."""
    if not inputs:
        return None
    model = run.work.model
    suite = make_suite(run.plan, inputs, model, run.tokenizer, max_len=run.max_len, device=run.device)
    evaluation = RunEvaluation(run.plan, inputs, model, suite, run.work.evaluate, run.run_dir)
    if not resumed:
        base = evaluation.before_training()
        if base and distributed.is_main():
            run.metrics.write({"step": 0, "epoch": 0.0, **base})  # the base model, before any step
    else:
        # Early stopping's count as of the checkpoint, from rank 0's records on every rank.
        evaluation.resume(distributed.broadcast(run.metrics.read()))
    return evaluation


def _finish(run: _Run, outcome: Outcome | None, progress: Progress) -> RunResult:
    """Rank 0 writes the model, summary.json, the outcome and the reports."""
    state, model, tok = run.state, run.work.model, run.tokenizer
    gathered = distributed.model_state(model)  # FSDP's shards, whole on rank 0
    if not distributed.is_main():
        return RunResult(run.run_dir, float(state.last_loss or 0.0), state.step)

    def write_model(d: Path) -> None:
        if run.work.saved_model is not None:  # e.g. a reward model's adapter folded into its head
            run.work.saved_model().save_pretrained(d)
        else:
            model.save_pretrained(d, state_dict=gathered)
        tok.save_pretrained(d)
        # Named relative to the run (or by hub id): the folder still loads once the run moves.
        make_adapter_portable(d, portable_base(run.plan, run.run_dir, run.run_dir))

    rundir.save_dir_atomic(run.run_dir / rundir.MODEL, write_model)
    summary: dict[str, Any] = {
        **training_summary(state, run.cfg),
        "max_len": run.max_len,
        "sequences": len(run.work.items),
        "labels": run.rows.labels,
        "bad_rows_skipped": run.rows.bad_rows_skipped(),
        "mixture": run.rows.mixture,
        "method": run.work.method.as_dict(),
        **run.work.summary,
        **eval_summary(run.metrics.read()),
        **(outcome.summary() if outcome else {}),
    }
    rundir.write_json(run.run_dir / rundir.SUMMARY, summary)
    if outcome:
        outcome.write(run.run_dir)
    write_reports(run.run_dir)
    if run.metrics.trackers is not None:
        run.metrics.trackers.finish(outcome, state.step)
    progress.final_line(final_line(run.plan.recipe, summary, run.run_dir))
    return RunResult(run.run_dir, float(state.last_loss or 0.0), state.step, summary, outcome)
