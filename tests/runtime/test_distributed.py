"""Scale-out through the real CLI on CPU (gloo): 2 processes match 1, resume after a kill, FSDP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ftlang.cli.main import main as ft_main
from ftlang.compiler.api import check_path
from ftlang.runtime import RunError, run_plan
from ftlang.runtime.train.checkpoint import latest_checkpoint
from ftlang.runtime.train.launch import with_processes

from ..conftest import RECIPES

# sft-tiny, shrunk. 57 rows with batch 8 end each epoch on a batch of one: the second process
# then has nothing and runs a zero-weight filler, which must change nothing. The evaluations
# (before step 1 and after the last) run forwards without a backward, between training steps;
# the embeddings trained beside the adapters sit in FSDP's root unit.
RECIPE = """\
recipe dist_tiny "sft-tiny, shrunk for the scale-out tests"

model base = scratch(llama, hidden = 32, layers = 2, heads = 4, vocab = 160, max_len = 64)

data rows = jsonl("rows.jsonl")

prompt follow {
  user "{{ instruction }}"
  assistant "{{ response }}"
}

method lora {
  rank = 4
  alpha = 8
  targets = [q_proj, v_proj]
  also_train = [embed_tokens, lm_head]
}

train {
  max_steps = 30
  lr = 3e-3
  batch = 8
  micro_batch = 4
  schedule = cosine(warmup = 2)
  max_len = 48
  seed = 1234
  checkpoint_every = 5
}

eval {
  on rows
  metrics [loss]
  compare base
}
"""
ROWS = 57


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ft(*args: str) -> subprocess.Popen:
    """`ft ARGS` in its own process group (torchrun's workers die with it: see distributed.py)."""
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        MASTER_PORT=str(free_port()),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ftlang.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def ft(*args: str, timeout: float = 120) -> None:
    """Run `ft ARGS` to success; on a timeout kill its process group and fail."""
    proc = start_ft(*args)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"ft {' '.join(args)} ran past {timeout}s")
    assert proc.returncode == 0, err


def workers_of(run_dir: Path) -> list[int]:
    """Processes whose command line names `run_dir`: the workers of a run writing there."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(run_dir) in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def records(run_dir: Path) -> list[dict]:
    """metrics.jsonl without its wall-clock fields: training records and evaluations."""
    recs = map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
    return [{k: v for k, v in r.items() if k not in ("elapsed", "tok_s")} for r in recs]


def losses(run_dir: Path) -> list[float]:
    """The training loss per step, then the eval loss before and after training."""
    recs = records(run_dir)
    return [r["loss"] for r in recs if "loss" in r] + [r["eval_loss"] for r in recs if "eval_loss" in r]


def tokens(run_dir: Path) -> list[int]:
    """Tokens trained on, cumulative, per step."""
    return [r["tokens"] for r in records(run_dir) if "loss" in r]


def adapter(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model" / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    lines = (RECIPES / "data" / "instructions.jsonl").read_text().splitlines()[:ROWS]
    (root / "rows.jsonl").write_text("\n".join(lines) + "\n")
    (root / "tiny.ft").write_text(RECIPE)
    return root / "tiny.ft"


@pytest.fixture(scope="module")
def two(recipe: Path) -> Path:
    """The recipe run uninterrupted by two DDP processes through the CLI."""
    out = recipe.parent / "two"
    ft("run", str(recipe), "--nproc", "2", "--quiet", "--out", str(out))
    return out


def test_two_processes_match_one(recipe: Path, two: Path, tmp_path: Path):
    # One process, accumulation 2 × micro-batch 4, against two processes × micro-batch 4:
    # the same global batches, the same seeded order, one loss denominator per step.
    one = run_plan(check_path(str(recipe), {}).plan, tmp_path / "one", quiet=True)
    single, double = losses(one.run_dir), losses(two)
    assert len(single) == len(double) == 32
    worst = max(abs(a - b) for a, b in zip(single, double))
    print(f"max |loss(1 process) - loss(2 processes)| per step and eval: {worst:.2e}")
    assert worst < 1e-4
    assert tokens(one.run_dir) == tokens(two)
    lock = json.loads((two / "lock.json").read_text())
    compute = {"processes": 2, "strategy": "ddp", "backend": "gloo", "precision": "auto"}
    assert {k: lock["compute"][k] for k in compute} == compute
    assert lock["levers"]["precision"] == "fp32"  # `auto` as it resolved on this CPU
    assert json.loads((two / "plan.json").read_text())["compute"]["processes"] == 2


def kill_after_first_checkpoint(proc: subprocess.Popen, run_dir: Path) -> None:
    """SIGKILL the launcher's process group once a checkpoint exists; its workers must die too."""
    try:
        deadline = time.monotonic() + 120
        while latest_checkpoint(run_dir) is None:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    deadline = time.monotonic() + 10
    while (left := workers_of(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:  # clean up before failing: they would keep writing into the run
        os.kill(pid, signal.SIGKILL)
    assert not left, "the workers outlived their launcher"


def test_sigkill_then_resume_matches_an_uninterrupted_run(recipe: Path, tmp_path: Path):
    # LoRA dropout draws from each rank's own RNG every step: a resume that lost one rank's
    # RNG state, the optimizer or the data position would drift by far more than 1e-6.
    # The uninterrupted run is the same plan under FSDP, which must train like DDP (the two
    # differ at most in the last bits of a float sum), so this one pair of runs checks both.
    dropout = ("--set", "method.dropout=0.1")
    killed, straight = tmp_path / "killed", tmp_path / "fsdp"
    kill_after_first_checkpoint(
        start_ft("run", str(recipe), "--nproc", "2", "--quiet", "--out", str(killed), *dropout), killed
    )
    stopped_at = int(latest_checkpoint(killed).name.split("-")[1])
    assert not (killed / "model").exists() and stopped_at < 30  # it really died mid-run

    ft("run", "--resume", str(killed), "--nproc", "2", "--quiet")
    ft(
        "run",
        str(recipe),
        "--nproc",
        "2",
        "--quiet",
        "--out",
        str(straight),
        *dropout,
        "--set",
        "compute.strategy=fsdp",
    )

    assert [r["step"] for r in records(killed) if "loss" in r] == list(range(1, 31))
    assert tokens(killed) == tokens(straight)
    assert losses(killed) == pytest.approx(losses(straight), abs=1e-6)
    a, b = adapter(killed), adapter(straight)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert json.loads((straight / "lock.json").read_text())["compute"]["strategy"] == "fsdp"
    assert len(list((straight / "checkpoints").iterdir())) == 2  # written whole by rank 0


def test_resume_with_another_world_size_is_refused(two: Path, capsys: pytest.CaptureFixture[str]):
    assert ft_main(["run", "--resume", str(two), "--nproc", "3"]) == 1
    err = capsys.readouterr().err
    assert "started with 2 processes and cannot resume with 3" in err
    assert "--nproc 2" in err and "random-number state per process" in err


def test_batch_must_split_across_processes(recipe: Path, capsys: pytest.CaptureFixture[str]):
    assert ft_main(["run", str(recipe), "--nproc", "3", "--quiet"]) == 1
    assert "must split evenly across 3 processes" in capsys.readouterr().err
    assert ft_main(["run", str(recipe), "--nproc", "2", "--set", "train.micro_batch=8"]) == 1
    err = capsys.readouterr().err
    assert "multiple of micro_batch × processes = 16" in err
    assert "set batch to 16, or micro_batch to one of 1, 2, 4" in err


def test_nproc_under_torchrun_must_agree(
    recipe: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert ft_main(["run", str(recipe), "--nproc", "2"]) == 2
    assert "the launcher started 4 processes" in capsys.readouterr().err


def test_several_processes_need_a_launcher(recipe: Path, tmp_path: Path):
    plan = with_processes(check_path(str(recipe), {}).plan, 2)
    with pytest.raises(RunError, match="needs 2 processes, and this is one") as exc:
        run_plan(plan, tmp_path / "run", quiet=True)
    assert "ft run --nproc 2" in (exc.value.help or "")
    assert not (tmp_path / "run").exists()
