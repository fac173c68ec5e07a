"""Scale-out before any process group: the launcher's world size, plan checks, and torchrun."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import torch

from ftlang.plan.canonical import load_plan
from ftlang.plan.models import ComputePlan, Plan, TrainPlan
from ftlang.runtime.errors import RunError

LAUNCHER_PID = "FTLANG_LAUNCHER_PID"  # set by `torchrun`: the workers' parent, checked by each worker


def launched_size() -> int | None:
    """The world size a launcher (torchrun, or SLURM through it) gave this process; None outside one."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    return None


def launched_rank() -> int:
    """This process's global rank from the launcher's environment (0 outside one)."""
    return int(os.environ["RANK"]) if launched_size() else 0


def with_processes(plan: Plan, n: int) -> Plan:
    """`plan` run by `n` processes: what `--nproc N`, or torchrun's world size, means."""
    return plan.model_copy(update={"compute": plan.compute.model_copy(update={"processes": n})})


def micro_batch(train: TrainPlan, processes: int) -> int:
    """Sequences per forward on one process; by default each process takes its whole share."""
    return min(train.micro_batch or max(1, train.batch // processes), train.batch)


def check_batch(train: TrainPlan, processes: int) -> None:
    """`train.batch` is the global batch: it must split into micro_batch × processes × accumulation."""
    micro = micro_batch(train, processes)
    step = micro * processes
    if train.batch % step == 0:
        return
    if train.micro_batch is None or train.batch % processes:
        raise RunError(
            f"train.batch = {train.batch} is the global batch and must split evenly across {processes} processes",
            help=f"set batch to a multiple of {processes}, or run with another --nproc",
        )
    share = train.batch // processes
    micros = ", ".join(str(d) for d in range(1, share + 1) if share % d == 0)
    near = sorted({m for m in (train.batch // step * step, (train.batch // step + 1) * step) if m > 0})
    raise RunError(
        f"train.batch = {train.batch} is the global batch: with {processes} processes and "
        f"micro_batch {train.micro_batch} it must be a multiple of micro_batch × processes "
        f"= {step}",
        help=f"set batch to {' or '.join(map(str, near))}, or micro_batch to one of {micros}",
    )


def check_plan(plan: Plan, processes: int) -> None:
    """What a run of several processes needs from the plan, checked before any process starts."""
    if processes == 1:
        return
    check_batch(plan.train, processes)
    resolve_backend(plan.compute)


def check_resume_world(run_dir: Path, processes: int) -> None:
    """A run resumes only with the number of processes it started with."""
    path = Path(run_dir) / "plan.json"
    if not path.is_file():
        return  # not a run directory: rundir.check_resumable says so
    started = load_plan(path.read_text(encoding="utf-8")).compute.processes
    if started != processes:
        raise RunError(
            f"{run_dir} started with {started} process{'es' if started > 1 else ''} and cannot resume with {processes}",
            help=f"resume with --nproc {started}: its checkpoints hold one random-number state per "
            f"process, and another world size splits each global batch into other shards and "
            f"micro-batches, so the rest of the run would not match the one that stopped",
        )


def resolve_backend(compute: ComputePlan) -> str:
    """`auto` is nccl on GPUs and gloo on CPUs; nccl without a GPU is a user mistake."""
    cuda = torch.cuda.is_available()
    if compute.backend == "auto":
        return "nccl" if cuda else "gloo"
    if compute.backend == "nccl" and not cuda:
        raise RunError(
            "compute.backend = nccl needs CUDA GPUs, and this machine has none",
            help="use backend = auto (gloo on CPUs) or gloo",
        )
    return compute.backend


def torchrun(args: list[str], nproc: int) -> int:
    """Run `python -m ftlang.cli.main ARGS` as `nproc` local processes through torchrun.

    torchrun runs in this process (its agent is this process), so the workers are its
    children and die with it. Returns the exit code of the first process that failed.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus and nproc > gpus:  # each process trains on a GPU of its own
        raise RunError(
            f"--nproc {nproc} needs {nproc} GPUs, and this machine has {gpus}",
            help=f"at most --nproc {gpus} on this machine",
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # The cores are shared by the workers: more intra-op threads than cores stall every barrier.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    os.environ[LAUNCHER_PID] = str(os.getpid())
    # Each worker says why it stopped; torchrun's own report would repeat it with a traceback.
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    argv = ["--nnodes", "1", "--nproc-per-node", str(nproc)]
    if os.environ.get("MASTER_PORT"):  # otherwise torchrun picks a free port itself
        argv += [
            "--master-addr",
            os.environ.get("MASTER_ADDR", "127.0.0.1"),
            "--master-port",
            os.environ["MASTER_PORT"],
        ]
    try:
        run(get_args_parser().parse_args([*argv, "-m", "ftlang.cli.main", *args]))
    except ChildFailedError as exc:
        failed_rank, failure = exc.get_first_failure()
        if failure.exitcode > 0:
            return failure.exitcode  # the worker said why (a RunError, a failed gate, a bug)
        print(f"ft: process rank {failed_rank} was killed by signal {-failure.exitcode}", file=sys.stderr)
        return 1
    return 0
