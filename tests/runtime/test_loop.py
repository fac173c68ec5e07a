"""Loop pieces: schedules, data order, accumulation, and that training actually learns."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from ftlang.plan.models import FullMethod, Schedule
from ftlang.runtime import run_plan
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.schedule import lr_factor, make_scheduler, warmup_steps

from .factories import chat_plan


def test_warmup_fraction_or_steps():
    assert warmup_steps(Schedule(warmup=0.1), 50) == 5
    assert warmup_steps(Schedule(warmup=0.03), 100) == 3
    assert warmup_steps(Schedule(warmup=3), 100) == 3
    assert warmup_steps(Schedule(warmup=500), 100) == 100
    assert warmup_steps(Schedule(), 100) == 0


def test_schedule_values():
    total, w = 10, 2
    assert [lr_factor(s, total, w, "constant") for s in range(4)] == [0.5, 1.0, 1.0, 1.0]
    assert [lr_factor(s, total, w, "linear") for s in (2, 6, 9)] == [1.0, 0.5, 0.125]
    cos = [lr_factor(s, total, w, "cosine") for s in range(total)]
    assert cos[:3] == [0.5, 1.0, 1.0]
    assert cos[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(cos[2:], cos[3:]))  # never rises after warm-up


def test_scheduler_drives_the_optimizer_lr():
    model = torch.nn.Linear(2, 2)
    opt = make_optimizer(model, 0.1, weight_decay=0.01)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0]  # no decay on the bias
    sched = make_scheduler(opt, total=4, warmup=2, kind="linear")
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.05, 0.1, 0.1, 0.05])  # warm-up, then linear decay


def test_data_order_is_seeded_and_resumable():
    a, b = DataOrder(10, seed=1), DataOrder(10, seed=1)
    first = [a.take(4) for _ in range(3)]
    assert first == [b.take(4) for _ in range(3)]
    assert sorted(i for chunk in first for i in chunk) == list(range(10))  # one epoch, short tail
    assert len(first[-1]) == 2
    state = a.state_dict()
    c = DataOrder(10, seed=99)
    c.load_state_dict(state)
    assert [a.take(4) for _ in range(5)] == [c.take(4) for _ in range(5)]
    assert DataOrder(10, seed=2).take(10) != DataOrder(10, seed=1).take(10)


def losses(run_dir: Path) -> list[float]:
    import json

    return [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def test_training_lowers_the_loss(tmp_path: Path):
    plan = chat_plan(tmp_path, method=FullMethod(), train={"epochs": 6, "lr": 1e-2, "batch": 8, "micro_batch": 8})
    result = run_plan(plan, tmp_path / "run", quiet=True)
    seen = losses(result.run_dir)
    assert len(seen) == 36 and result.steps == 36
    assert seen[-1] < 0.5 * seen[0]
    assert result.final_loss == pytest.approx(seen[-1])


def test_accumulation_matches_one_big_batch(tmp_path: Path):
    one = run_plan(
        chat_plan(tmp_path, method=FullMethod(), train={"batch": 8, "micro_batch": 8}), tmp_path / "a", quiet=True
    )
    acc = run_plan(
        chat_plan(tmp_path, method=FullMethod(), train={"batch": 8, "micro_batch": 2}), tmp_path / "b", quiet=True
    )
    assert losses(one.run_dir) == pytest.approx(losses(acc.run_dir), rel=1e-5, abs=1e-6)
