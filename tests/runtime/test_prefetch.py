"""The loop builds a step's batches ahead, on a background thread, for every collator that does not run the
model, and the run is bit for bit the run built in place; GRPO's rollouts are never built ahead."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from ftlang.runtime.methods.workload import Workload
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.loop import Hooks, LoopConfig, LoopState, train
from ftlang.runtime.train.prefetch import runs_model

from .test_method_precision import _plans, _workload

CPU = torch.device("cpu")
BATCH, MICRO = 4, 2


class _Logged(Hooks):
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, record: dict[str, Any]) -> None:
        self.records.append({k: v for k, v in record.items() if k not in ("elapsed", "tok_s")})


class _Threads:
    """A collator that does not run the model, recording the thread each batch is built on."""

    runs_model = False

    def __init__(self, collator: Any) -> None:
        self.collator, self.threads = collator, set[str]()

    def __call__(self, items: Sequence[Any]) -> Any:
        self.threads.add(threading.current_thread().name)
        return self.collator(items)


def _run(work: Workload, task: str, collator: Any) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor], Any]:
    """A run from the workload's weights into a copy of them, past an epoch's end (where the next step's
    indices are not known ahead): its logged losses and statistics, final weights and data order."""
    start = {k: v.clone() for k, v in work.model.state_dict().items()}
    torch.manual_seed(0)  # dropout draws on the main thread, in the same order either way
    params = [p for p in work.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    per_epoch = math.ceil(len(work.items) / BATCH)
    hooks = _Logged()
    state = train(
        work.model,
        work.items,
        task=task,
        collator=collator,
        cfg=LoopConfig(per_epoch + 2, per_epoch, BATCH, MICRO, 1.0, 1, None, None),
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.ConstantLR(optimizer, 1.0),
        state=LoopState(DataOrder(len(work.items), 3), seeds=work.seeds),
        device=CPU,
        hooks=hooks,
        objective=work.objective,
    )
    weights = {k: v.clone() for k, v in work.model.state_dict().items()}
    work.model.load_state_dict(start)
    return hooks.records, weights, state.order.state_dict()


@pytest.mark.parametrize("kind", ["dpo", "kto", "simpo"])
def test_a_prefetched_run_is_the_run_built_in_place(kind: str, tmp_path: Path) -> None:
    plan = _plans(tmp_path)[kind]
    (tmp_path / kind).mkdir()
    work = _workload(plan, tmp_path / kind)
    assert not runs_model(work.collator)
    ahead = _Threads(work.collator)
    prefetched = _run(work, plan.prompt.task, ahead)
    assert any(name.startswith("ftlang-prefetch") for name in ahead.threads), ahead.threads
    # A plain function does not declare that it runs no model: the loop builds its batches in place.
    in_place = _run(work, plan.prompt.task, lambda items: work.collator(items))
    (logged, weights, order), (logged_in_place, weights_in_place, order_in_place) = prefetched, in_place
    assert logged == logged_in_place and len(logged) > 2
    assert weights.keys() == weights_in_place.keys()
    assert all(torch.equal(weights[k], weights_in_place[k]) for k in weights)
    assert order.pop("generator").equal(order_in_place.pop("generator")) and order == order_in_place
    assert any(not torch.equal(weights[k], v) for k, v in work.model.state_dict().items()), "the run must train"


def test_grpo_rollouts_are_sampled_on_the_main_thread_in_step_order(tmp_path: Path) -> None:
    plan = _plans(tmp_path)["grpo"]
    (tmp_path / "grpo").mkdir()
    work = _workload(plan, tmp_path / "grpo")
    assert runs_model(work.collator)
    threads: list[str] = []
    work.model.register_forward_hook(lambda *_: threads.append(threading.current_thread().name))
    logged, _, _ = _run(work, plan.prompt.task, work.collator)
    assert logged and threads and set(threads) == {threading.main_thread().name}
