"""The pieces of scale-out that need no second process: rank shards, batch checks, FSDP checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from ftlang.plan.models import TrainPlan
from ftlang.runtime import RunError
from ftlang.runtime.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.distributed import own_micro_batches, split_batch, wrap
from ftlang.runtime.train.launch import check_batch, micro_batch
from ftlang.runtime.train.loop import LoopState
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.schedule import make_scheduler


def train_plan(batch: int, micro: int | None = None) -> TrainPlan:
    return TrainPlan.model_validate({"data": {"data": "d"}, "batch": batch, "micro_batch": micro})


@pytest.mark.parametrize("n,world,micro", [(8, 2, 4), (7, 2, 2), (5, 4, 1), (1, 2, 4), (12, 3, 2)])
def test_each_item_goes_to_exactly_one_rank(n: int, world: int, micro: int):
    per_rank = split_batch(list(range(n)), micro, world)
    seen = sorted(i for rank in per_rank for mb in rank for i in mb)
    assert seen == list(range(n))
    assert all(len(mb) <= micro for rank in per_rank for mb in rank)
    assert per_rank[1][0][0] == 1 if n > 1 else per_rank[1] == []  # strided: rank r starts at r


def test_one_process_keeps_the_plain_micro_batches():
    assert split_batch(list(range(10)), 4, 1) == [[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]]


def test_ranks_run_equally_many_micro_batches():
    per_rank = split_batch(list(range(5)), 2, 2)  # rank 0: [0, 2], [4]; rank 1: [1, 3]
    assert own_micro_batches(per_rank, 0) == [([0, 2], 1), ([4], 1)]
    assert own_micro_batches(per_rank, 1) == [([1, 3], 1), ([0], 0)]  # a zero-weight filler
    lonely = split_batch([7], 4, 2)  # an epoch's last batch of one
    assert own_micro_batches(lonely, 1) == [([7], 0)]


def test_global_batch_checks():
    assert micro_batch(train_plan(16), 2) == 8  # by default each process takes its share
    assert micro_batch(train_plan(16, 4), 1) == 4
    check_batch(train_plan(16, 4), 2)
    check_batch(train_plan(16, 4), 4)
    with pytest.raises(RunError, match="multiple of micro_batch × processes = 16") as exc:
        check_batch(train_plan(24, 8), 2)
    assert exc.value.help == "set batch to 16 or 32, or micro_batch to one of 1, 2, 3, 4, 6, 12"
    with pytest.raises(RunError, match="= 12") as exc:
        check_batch(train_plan(18, 4), 3)
    assert exc.value.help == "set batch to 12 or 24, or micro_batch to one of 1, 2, 3, 6"
    with pytest.raises(RunError, match="split evenly across 3 processes"):
        check_batch(train_plan(16), 3)


@pytest.fixture
def one_rank_group():
    """A real gloo process group of one rank, in this process: enough for FSDP's DTensors."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _fsdp_model(seed: int):
    torch.manual_seed(seed)
    model = wrap(torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)), "fsdp")
    optimizer = make_optimizer(model, 1e-2, 0.1)
    return model, optimizer, make_scheduler(optimizer, 10, 2, "linear")


def _step(model, optimizer, scheduler, x: torch.Tensor) -> None:
    model(x).square().sum().backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def test_fsdp_checkpoint_round_trip(one_rank_group, tmp_path: Path):
    x = torch.randn(4, 6)
    model, optimizer, scheduler = _fsdp_model(0)
    _step(model, optimizer, scheduler, x)
    state = LoopState(DataOrder(4, 0), step=1)
    save_checkpoint(tmp_path, model, optimizer, scheduler, state, 0.25)

    other, other_opt, other_sched = _fsdp_model(1)  # other weights until the checkpoint loads
    load_checkpoint(
        latest_checkpoint(tmp_path), other, other_opt, other_sched, LoopState(DataOrder(4, 0)), torch.device("cpu")
    )
    _step(model, optimizer, scheduler, x)
    _step(other, other_opt, other_sched, x)  # equal only if weights, moments and lr all came back
    for (name, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        assert isinstance(b, DTensor), name
        assert torch.equal(a.full_tensor(), b.full_tensor()), name
