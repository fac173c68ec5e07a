"""Scale-out inside a run: process group, rank shards, DDP/FSDP wrapping, gathers and sums."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule, OffloadPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.nn.parallel import DistributedDataParallel

from ftlang.plan.models import Plan
from ftlang.runtime.errors import RunError
from ftlang.runtime.train.launch import LAUNCHER_PID, check_plan, launched_size, resolve_backend

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_GATHERED = StateDictOptions(full_state_dict=True, cpu_offload=True)  # whole tensors, on rank 0's CPU


# --- who and where am I ---------------------------------------------------------------


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0 alone writes the run directory: metrics, checkpoints, model, summary."""
    return rank() == 0


def device(wanted: str = "auto") -> torch.device:
    """The device this process trains on: its own GPU (by local rank) under torch.distributed.

    `wanted` is the plan's compute.device: `auto` takes a GPU when there is one."""
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RunError(
            "`device = cuda` needs a CUDA GPU, and this machine has none",
            location="compute.device",
            help="run it where there is a GPU, or set `device = auto`",
        )
    if wanted == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cuda")


# --- the process group ----------------------------------------------------------------


def _die_with_launcher() -> None:
    """Die with the launching agent: torchrun gives every worker its own session, so killing the
    launcher's process group (Ctrl-C in some shells, a job scheduler, a test) would otherwise
    leave the workers training and writing into the run directory."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = os.environ.get(LAUNCHER_PID)
    if parent and os.getppid() != int(parent):  # it died before prctl: no signal will come
        raise RunError("the `ft run --nproc` launcher of this process is gone")


@contextlib.contextmanager
def session(plan: Plan) -> Iterator[None]:
    """Join the process group for a run of several processes; a no-op for one process."""
    launched, n = launched_size(), plan.compute.processes
    if n == 1 and launched in (None, 1):
        yield
        return
    if launched is None:
        raise RunError(
            f"compute.processes = {n} needs {n} processes, and this is one",
            help=f"run it with `ft run --nproc {n}`, or under torchrun (docs/scaling.md)",
        )
    if launched != n:
        raise RunError(
            f"the plan says compute.processes = {n}, but the launcher started {launched}",
            help=f"start {n} processes, or set compute.processes = {launched}",
        )
    check_plan(plan, n)
    backend = resolve_backend(plan.compute)
    _die_with_launcher()
    if torch.cuda.is_available():
        local, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
        if local >= gpus:
            raise RunError(
                f"process {local} of this machine has no GPU of its own: it has {gpus}",
                help=f"start at most {gpus} processes per machine (--nproc-per-node)",
            )
        torch.cuda.set_device(local)
    dist.init_process_group(backend)
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast(obj: T) -> T:
    """Rank 0's value of `obj` on every rank (e.g. a run directory named after the clock)."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order (e.g. the random-number states a checkpoint keeps)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * size()
    dist.all_gather_object(out, obj)
    return out


def all_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum `t` over ranks in place; the identity for one process."""
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


# --- data: rank shards ----------------------------------------------------------------


def split_batch(chunk: Sequence[T], micro: int, world: int) -> list[list[list[T]]]:
    """Every rank's micro-batches of one global batch: rank r takes chunk[r::world], `micro` at a time.

    All ranks hold the same seeded global order, so striding it gives each example to exactly
    one rank per epoch, and one process with accumulation sees the same global batch.
    """
    shards = [list(chunk[r::world]) for r in range(world)]
    return [[s[i : i + micro] for i in range(0, len(s), micro)] for s in shards]


def own_micro_batches(per_rank: list[list[list[T]]], me: int) -> list[tuple[list[T], int]]:
    """This rank's micro-batches with their weights: 1, or 0 for fillers up to the busiest rank's count.

    FSDP gathers parameters in every forward and DDP reduces in every synced backward, so all
    ranks must run equally many; only an epoch's short last batch makes their shares differ.
    Rank 0 always has the largest share, and a non-empty batch gives it an item to reuse.
    """
    mine = per_rank[me]
    most = max(len(r) for r in per_rank)
    filler = per_rank[0][0][:1]
    return [(mb, 1) for mb in mine] + [(filler, 0)] * (most - len(mine))


def batch_totals(micro: Sequence[tuple[Any, int]], on: torch.device) -> tuple[int, int, int]:
    """Loss targets, tokens and padded positions of the global batch: every rank's real micro-batches.

    One small all-reduce per step (before the backward passes, which need the denominator).
    """
    local = [sum(getattr(b, k) * w for b, w in micro) for k in ("n_targets", "n_tokens", "n_positions")]
    if not dist.is_initialized():
        return local[0], local[1], local[2]
    totals = all_sum(torch.tensor(local, dtype=torch.int64, device=on)).tolist()
    return totals[0], totals[1], totals[2]


def sum_over_ranks(loss: torch.Tensor, stats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A step's loss and statistics summed over ranks (each rank's part is already over the
    global denominator), in one all-reduce, so every rank logs what one process would."""
    if not dist.is_initialized():
        return loss, stats
    keys = sorted(stats)
    summed = all_sum(torch.stack([loss, *(torch.as_tensor(stats[k], dtype=loss.dtype) for k in keys)]))
    return summed[0], dict(zip(keys, summed[1:]))


# --- model: wrapping and whole-tensor views -------------------------------------------


def wrap(model: torch.nn.Module, strategy: str, offload: bool = False) -> torch.nn.Module:
    """The module to train: DDP around `model`, or `model` sharded in place by FSDP2.

    `offload`: FSDP2 keeps the parameter shards, their gradients and so the optimizer state in
    CPU memory, moving each unit's parameters to the GPU for its forward and backward."""
    if not dist.is_initialized():
        return model
    if strategy == "fsdp":
        policy = CPUOffloadPolicy() if offload else OffloadPolicy()
        # One FSDP unit per transformer block (the classes HF never splits), then the root.
        blocks = set(getattr(model, "_no_split_modules", None) or ())
        for module in model.modules():
            if type(module).__name__ in blocks:
                fully_shard(module, offload_policy=policy)
        # The root too drops its whole parameters after each forward (by default it keeps them
        # for the backward). An evaluation's forward has no backward: the root would go on
        # showing whole tensors instead of the shards the optimizer steps (a checkpoint then
        # fails), and training diverged from DDP (1e-2 in 30 steps with `also_train` weights).
        fully_shard(model, reshard_after_forward=True, offload_policy=policy)
        return model
    here = device()
    return DistributedDataParallel(model, device_ids=[here.index] if here.type == "cuda" else None)


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether FSDP shards `model`: each of its forwards is then a collective that every process must run."""
    return isinstance(model, FSDPModule)


def accumulating(model: torch.nn.Module, more: bool) -> contextlib.AbstractContextManager:
    """Skip the gradient reduction while `more` micro-batches of the step are still to come."""
    if isinstance(model, DistributedDataParallel) and more:
        return model.no_sync()
    if isinstance(model, FSDPModule):
        model.set_requires_gradient_sync(not more)
    return contextlib.nullcontext()


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor behind an FSDP shard (a collective: every rank must call it)."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def shard_like(param: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """This rank's part of `whole` for a sharded `param` (every rank holds `whole`: no traffic)."""
    if not isinstance(param, DTensor):
        return whole
    return distribute_tensor(whole, param.device_mesh, param.placements, src_data_rank=None)


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """Under FSDP the whole state dict for `save_pretrained` (collective; rank 0 gets it), else None."""
    return get_model_state_dict(model, options=_GATHERED) if isinstance(model, FSDPModule) else None


def optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer state to save; FSDP's shards are gathered by parameter name (collective)."""
    if isinstance(model, FSDPModule):
        return get_optimizer_state_dict(model, optimizer, options=_GATHERED)
    return optimizer.state_dict()


def load_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    if isinstance(model, FSDPModule):
        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))
    else:
        optimizer.load_state_dict(state)
