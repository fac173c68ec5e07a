"""The training loop on plain torch: losses, accumulation, clipping, logging and eval hooks."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ftlang.plan.models import TrainPlan
from ftlang.runtime.data.batching import Batch, Collator, singles
from ftlang.runtime.data.prompts import IGNORE, Example
from ftlang.runtime.methods.lm_loss import linear_cross_entropy, plain_head
from ftlang.runtime.sampling import SamplingSeeds
from ftlang.runtime.train import distributed
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.launch import micro_batch
from ftlang.runtime.train.master_weights import MasterWeights
from ftlang.runtime.train.precision import Precision
from ftlang.runtime.train.prefetch import Prefetcher, preparer, runs_model


def autocast(device: torch.device, precision: Precision | None = None) -> contextlib.AbstractContextManager:
    """The run's resolved precision; without one, bf16 on CUDA only (CPU autocast is slower
    there and would break bit-exact reruns)."""
    if precision is not None:
        return precision.autocast()
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# What a step minimises, per micro-batch: the summed loss (the loop divides by the step's
# `n_targets`), and summed statistics logged beside it as means (DPO margins, GRPO rewards).
Objective = Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def lm_objective(task: str) -> Objective:
    """Supervised fine-tuning: cross-entropy on the targets, no extra statistics."""
    return lambda model, batch: (loss_sum(model, batch, task)[0], {})


def loss_sum(model: torch.nn.Module, batch: Batch, task: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Summed cross-entropy of a micro-batch (and, for classification, the number correct)."""
    parts = plain_head(model) if task != "classification" else None
    if parts is not None:  # the head and its loss in chunks (lm_loss.py): less memory, fewer passes
        decoder, head = parts
        hidden = decoder(**batch.model_inputs()).last_hidden_state
        return linear_cross_entropy(hidden.reshape(-1, hidden.shape[-1]), head.weight, batch.targets.reshape(-1)), None
    logits = model(**batch.model_inputs()).logits.float()
    if task == "classification":
        loss = F.cross_entropy(logits, batch.targets, reduction="sum")
        return loss, (logits.argmax(-1) == batch.targets).sum()
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    return loss, None


@torch.no_grad()
def evaluate_loss(
    model: torch.nn.Module,
    examples: Sequence[Example],
    *,
    task: str,
    collator: Collator | None = None,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    precision: Precision | None = None,
) -> dict[str, float]:
    """Mean loss per target token (LM) or per example (classification), plus accuracy.

    Runs in eval mode (no dropout, so no RNG draws) without packing, in the run's `precision`;
    restores train mode. The pad id does not change the loss (padding is masked), so the
    default collator pads with 0.
    """
    device = torch.device(device)
    collator = collator or Collator(task, 0, False, None, torch.float32)
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    n_targets = 0
    items = singles(examples)
    try:
        for i in range(0, len(items), batch_size):
            batch = collator(items[i : i + batch_size], packed=False).to(device)
            with autocast(device, precision):
                loss, right = loss_sum(model, batch, task)
            total += loss.double()
            if right is not None:
                correct += right
            n_targets += batch.n_targets
    finally:
        model.train(was_training)
    out = {"eval_loss": total.item() / max(1, n_targets), "eval_examples": len(examples)}
    if task == "classification":
        out["eval_accuracy"] = correct.item() / max(1, len(examples))
    else:
        out["eval_tokens"] = n_targets
    return out


@dataclass(frozen=True)
class LoopConfig:
    total_steps: int
    steps_per_epoch: int
    batch: int
    micro_batch: int
    grad_clip: float | None
    log_every: int
    eval_every: int | None
    checkpoint_every: int | None

    @staticmethod
    def from_plan(tp: TrainPlan, n_items: int, processes: int = 1) -> LoopConfig:
        per_epoch = max(1, math.ceil(n_items / tp.batch))
        # A fractional epoch count trains that share of an epoch's steps, at least one.
        total = tp.max_steps if tp.max_steps is not None else max(1, math.ceil(tp.epochs * per_epoch))
        return LoopConfig(
            total,
            per_epoch,
            tp.batch,
            micro_batch(tp, processes),
            tp.grad_clip,
            tp.log_every,
            per_epoch if tp.eval_every == "epoch" else tp.eval_every,
            tp.checkpoint_every,
        )


@dataclass
class LoopState:
    """Everything besides weights and optimizer a resumed run needs to continue exactly."""

    order: DataOrder
    step: int = 0
    tokens: int = 0
    positions: int = 0  # tokens + padding: 1 - tokens/positions is the padding share
    elapsed: float = 0.0
    window_loss: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    window_steps: int = 0
    window_tokens: int = 0
    window_stats: dict[str, torch.Tensor] = field(default_factory=dict)  # the objective's, summed
    last_loss: float | None = None
    seeds: SamplingSeeds | None = None  # a method's sampling seeds (GRPO), keyed by the step: nothing to save
    grad_scaler: torch.amp.GradScaler | None = None  # fp16's loss scale: a resumed run goes on from it

    def state_dict(self) -> dict[str, Any]:
        return {
            "order": self.order.state_dict(),
            "step": self.step,
            "tokens": self.tokens,
            "positions": self.positions,
            "elapsed": self.elapsed,
            "window_loss": self.window_loss.cpu(),
            "window_steps": self.window_steps,
            "window_tokens": self.window_tokens,
            "window_stats": {k: v.cpu() for k, v in self.window_stats.items()},
            "last_loss": self.last_loss,
            "grad_scaler": None if self.grad_scaler is None else self.grad_scaler.state_dict(),
        }

    def load_state_dict(self, s: dict[str, Any], device: torch.device) -> None:
        self.order.load_state_dict(s["order"])
        self.step, self.tokens, self.elapsed = s["step"], s["tokens"], s["elapsed"]
        self.positions = s["positions"]
        self.window_loss = s["window_loss"].to(device)
        self.window_steps, self.window_tokens = s["window_steps"], s["window_tokens"]
        self.window_stats = {k: v.to(device) for k, v in s["window_stats"].items()}
        self.last_loss = s["last_loss"]
        if s.get("grad_scaler"):
            self.grad_scaler = torch.amp.GradScaler(device.type)
            self.grad_scaler.load_state_dict(s["grad_scaler"])


class Hooks:
    """What the loop reports to: metrics, eval, checkpoints, progress. All optional."""

    def log(self, record: dict[str, Any]) -> None: ...
    def evaluate(self, step: int) -> dict[str, float] | None:
        return None

    def stop(self, step: int) -> bool:
        return False  # early stopping, asked after each step's evaluation

    def checkpoint(self, state: LoopState) -> None: ...
    def progress(self, state: LoopState, loss: float | None, tok_s: float | None) -> None: ...


def train(
    model: torch.nn.Module,
    items: Sequence[Any],
    *,
    task: str,
    collator: Callable[[Sequence[Any]], Any],
    cfg: LoopConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: LoopState,
    device: torch.device,
    hooks: Hooks,
    objective: Objective | None = None,
    precision: Precision | None = None,
    masters: MasterWeights | None = None,
) -> LoopState:
    """Run optimizer steps from `state.step` to `cfg.total_steps`; returns the final state.

    `objective` scores a micro-batch (default: the task's cross-entropy); `items` and
    `collator` are whatever it scores: sequences, preference pairs, prompts. `masters`: the
    float32 weights the optimizer steps for the model's bfloat16 ones (`bf16_master`).
    """
    model.train()
    if precision is not None and state.grad_scaler is None:
        state.grad_scaler = precision.scaler()
    stepper = _Stepper(
        model, objective or lm_objective(task), optimizer, scheduler, cfg, device, precision, state.grad_scaler, masters
    )
    window = _Window(cfg, hooks, time.perf_counter() - state.elapsed, time.perf_counter())
    state.window_loss = state.window_loss.to(device)
    prepare = preparer(items, collator, cfg.micro_batch, distributed.size(), distributed.rank(), device)
    # A collator that runs the model (GRPO's samples from this step's policy) collates in step order.
    prefetcher = None if runs_model(collator) else Prefetcher(prepare)
    while state.step < cfg.total_steps:
        idx = state.order.take(cfg.batch)
        if state.seeds is not None:
            state.seeds.step = state.step
        micro = prefetcher.get(idx) if prefetcher else prepare(idx)
        if prefetcher:
            prefetcher.ahead(state.order.upcoming(cfg.batch))
        step_loss, lr = stepper.step(micro, state)
        if window.after_step(state, step_loss, lr, device):
            break
    if prefetcher:
        prefetcher.close()
    state.elapsed = time.perf_counter() - window.started
    return state


@dataclass
class _Stepper:
    """One optimizer step over a global batch's micro-batches: accumulate, clip, step."""

    model: torch.nn.Module
    objective: Objective
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    cfg: LoopConfig
    device: torch.device
    precision: Precision | None
    scaler: torch.amp.GradScaler | None
    masters: MasterWeights | None = None

    def __post_init__(self) -> None:
        # What is clipped and stepped: the trained parameters, or their float32 masters.
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if self.masters is not None:
            self.params = self.masters.stepped(self.params)

    def step(self, micro: list[tuple[Any, float]], state: LoopState) -> tuple[torch.Tensor, float]:
        """The step's loss (summed over ranks) and the learning rate it stepped with."""
        step_loss, n_tokens, n_positions = self._accumulate(micro, state)
        state.tokens += n_tokens
        state.positions += n_positions
        state.window_tokens += n_tokens
        if self.masters is not None:
            self.masters.take_grads()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients; a step with inf/NaN is skipped
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.masters is not None:
            self.masters.write_back()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.window_loss += step_loss
        state.window_steps += 1
        return step_loss, lr

    def _accumulate(self, micro: list[tuple[Any, float]], state: LoopState) -> tuple[torch.Tensor, int, int]:
        """Forward and backward over every micro-batch; the stats go into the state's window."""
        world = distributed.size()
        # One denominator for the whole global batch, over every rank: accumulation and data
        # parallelism then both equal one big batch.
        n_targets, n_tokens, n_positions = distributed.batch_totals(micro, self.device)
        denom = max(1, n_targets)
        step_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        step_stats: dict[str, torch.Tensor] = {}
        for i, (b, weight) in enumerate(micro):
            with distributed.accumulating(self.model, more=i < len(micro) - 1):
                with autocast(self.device, self.precision):
                    loss, stats = self.objective(self.model, b)
                # DDP and FSDP average gradients over ranks: the world-size factor makes that
                # average the sum one process would compute (a zero-weight filler adds nothing).
                scaled = loss * (weight * world) / denom
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            step_loss += weight * loss.detach().double() / denom
            for k, v in stats.items():
                step_stats[k] = step_stats.get(k, 0) + weight * v.detach().double() / denom
        step_loss, step_stats = distributed.sum_over_ranks(step_loss, step_stats)
        for k, v in step_stats.items():
            state.window_stats[k] = state.window_stats.get(k, 0) + v
        return step_loss, n_tokens, n_positions


@dataclass
class _Window:
    """What happens after a step: evaluation, the logged loss window, progress, checkpoints."""

    cfg: LoopConfig
    hooks: Hooks
    started: float  # perf_counter at step 0 (a resumed run counts its elapsed time)
    window_start: float

    def after_step(self, state: LoopState, step_loss: torch.Tensor, lr: float, device: torch.device) -> bool:
        """Whether the run is done: the last step, or an early stop."""
        cfg, hooks = self.cfg, self.hooks
        epoch = round(state.step / cfg.steps_per_epoch, 4)
        if (cfg.eval_every and state.step % cfg.eval_every == 0) or state.step == cfg.total_steps:
            result = hooks.evaluate(state.step)
            if result is not None:
                elapsed = round(time.perf_counter() - self.started, 3)
                hooks.log({"step": state.step, "epoch": epoch, **result, "elapsed": elapsed})
        # An early stop (decided by the evaluation just above) ends the run like its last
        # step: the loss window is logged and a checkpoint written.
        done = state.step == cfg.total_steps or hooks.stop(state.step)
        if state.step % cfg.log_every == 0 or done:
            self._log(state, step_loss, lr, epoch, device)
        else:
            hooks.progress(state, None, None)
        if cfg.checkpoint_every and (state.step % cfg.checkpoint_every == 0 or done):
            state.elapsed = time.perf_counter() - self.started
            state.last_loss = step_loss.item()
            hooks.checkpoint(state)
        return done

    def _log(self, state: LoopState, step_loss: torch.Tensor, lr: float, epoch: float, device: torch.device) -> None:
        now = time.perf_counter()
        # The only host sync of a logged step: turning the window's loss into a number.
        loss_value = (state.window_loss / state.window_steps).item()
        state.last_loss = step_loss.item()
        tok_s = state.window_tokens / max(1e-9, now - self.window_start)
        state.elapsed = now - self.started
        stats = {k: (v / state.window_steps).item() for k, v in state.window_stats.items()}
        self.hooks.log(
            {
                "step": state.step,
                "epoch": epoch,
                "loss": loss_value,
                "lr": lr,
                "tokens": state.tokens,
                "elapsed": round(state.elapsed, 3),
                "tok_s": round(tok_s, 1),
                **stats,
            }
        )
        self.hooks.progress(state, loss_value, tok_s)
        state.window_loss = torch.zeros((), dtype=torch.float64, device=device)
        state.window_stats = {}
        state.window_steps = state.window_tokens = 0
        self.window_start = now
