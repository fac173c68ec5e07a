"""GRPO on two processes (gloo) logs what one process logs: the same completions, rewards and loss.

Each completion is sampled from a generator keyed by the step, its prompt and its place in the
group (runtime/sampling.py), so which process samples a prompt, beside which others, changes no
draw. recipes/grpo-tiny.ft runs six steps on one process, then through `ft run --nproc 2`: under
DDP, killed after a checkpoint and resumed, and under FSDP (which samples in lockstep).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ftlang.compiler.api import check_path
from ftlang.runtime import run_plan
from ftlang.runtime.train.checkpoint import latest_checkpoint

from ..conftest import RECIPES
from .test_distributed import ft, kill_after_first_checkpoint, records, start_ft

RECIPE = RECIPES / "grpo-tiny.ft"
SHORT = {"train.max_steps": "6", "train.eval_every": "3", "train.checkpoint_every": "2"}
SETS = [arg for key, value in SHORT.items() for arg in ("--set", f"{key}={value}")]


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    plan = check_path(str(RECIPE), SHORT).plan
    assert plan is not None
    return records(run_plan(plan, tmp_path_factory.mktemp("grpo-one") / "run", quiet=True).run_dir)


def assert_logs_alike(one: list[dict], two: list[dict]) -> None:
    """Every training and evaluation record, key by key: the rewards show the completions agree."""
    assert [sorted(r) for r in one] == [sorted(r) for r in two]
    for a, b in zip(one, two):
        for key, value in a.items():
            # The loss hovers around 0 (advantages have mean 0): an absolute bound well below it.
            assert b[key] == pytest.approx(value, rel=1e-5, abs=1e-7), (key, a["step"])


def test_two_processes_sample_and_log_what_one_does(one: list[dict], tmp_path: Path):
    # Under DDP, killed after a checkpoint and resumed: the steps before the kill and those after
    # the resume (which samples with the seeds of its steps) must both match one process.
    killed, sharded = tmp_path / "killed", tmp_path / "fsdp"
    kill_after_first_checkpoint(
        start_ft("run", str(RECIPE), *SETS, "--nproc", "2", "--quiet", "--out", str(killed)), killed
    )
    assert latest_checkpoint(killed) is not None and not (killed / "model").exists()  # it really died mid-run
    ft("run", "--resume", str(killed), "--nproc", "2", "--quiet", timeout=240)
    two = records(killed)
    assert [r["step"] for r in two if "loss" in r] == list(range(1, 7))
    assert len({r["reward"] for r in one if "loss" in r}) > 1  # the completions change from step to step
    assert_logs_alike(one, two)
    # FSDP gathers the weights in every forward: both processes sample all max_new_tokens.
    ft("run", str(RECIPE), *SETS, "--set", "compute.strategy=fsdp", "--nproc", "2", "--quiet", "--out", str(sharded),
       timeout=240)  # fmt: skip
    assert_logs_alike(one, records(sharded))
