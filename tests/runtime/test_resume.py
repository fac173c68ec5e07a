"""Kill a run after a checkpoint, resume it, and match an uninterrupted run bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from ftlang.plan.canonical import plan_json
from ftlang.plan.models import LoraMethod, Plan
from ftlang.runtime import RunResult, run_plan
from ftlang.runtime.train.checkpoint import latest_checkpoint

from .factories import chat_plan

CHILD = """
import sys, torch
torch.set_num_threads(1)
from pathlib import Path
from ftlang.plan.canonical import load_plan
from ftlang.runtime import run_plan
run_plan(load_plan(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), quiet=True)
"""


def records(run_dir: Path) -> list[dict]:
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("elapsed", "tok_s")} for r in recs]


def kill_after_first_checkpoint(plan: Plan, killed: Path) -> int:
    """Run `plan` in a child process into `killed`, SIGKILL it after its first checkpoint; its step."""
    plan_file = killed.with_name(killed.name + "-plan.json")
    plan_file.write_text(plan_json(plan))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(plan_file), str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while latest_checkpoint(killed) is None:
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stopped_at = int(latest_checkpoint(killed).name.split("-")[1])
    assert not (killed / "model").exists()  # it really died mid-run
    return stopped_at


def assert_resumes_like(plan: Plan, straight: RunResult, killed: Path) -> None:
    """Kill a run of `plan` after its first checkpoint, resume it: the same as `straight`, exactly.

    `straight` ran in this process, the killed run in a child: a rerun matches too.
    """
    kill_after_first_checkpoint(plan, killed)
    resumed = run_plan(plan, resume=killed, quiet=True)
    assert resumed.steps == straight.steps and resumed.final_loss == straight.final_loss
    assert records(killed) == records(straight.run_dir)


def test_sigkill_then_resume_is_bit_identical(tmp_path: Path):
    # LoRA dropout draws from torch's RNG every step: a resume that lost the RNG state
    # would drift, so this checks RNG, optimizer, scheduler and data position together.
    plan = chat_plan(
        tmp_path,
        method=LoraMethod(rank=4, alpha=8, dropout=0.1),
        split={"train": 0.8, "eval": 0.2},
        eval_on="eval",
        train={
            "max_steps": 150,
            "batch": 4,
            "micro_batch": 2,
            "checkpoint_every": 10,
            "eval_every": 25,
            "log_every": 3,
            "schedule": {"kind": "cosine", "warmup": 0.1},
            "weight_decay": 0.01,
        },
    )
    killed = tmp_path / "killed"
    assert kill_after_first_checkpoint(plan, killed) < 150

    resumed = run_plan(plan, resume=killed, quiet=True)
    straight = run_plan(plan, tmp_path / "straight", quiet=True)

    assert resumed.steps == straight.steps == 150
    assert resumed.final_loss == straight.final_loss  # exact, not approximate
    a = load_file(str(killed / "model" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "straight" / "model" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert records(killed) == records(tmp_path / "straight")
