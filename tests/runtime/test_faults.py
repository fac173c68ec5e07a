"""Runs survive faults: killed runs, torn and zeroed checkpoints, torn metrics, bad or full --out, two writers."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ftlang.plan.canonical import plan_json
from ftlang.plan.models import LoraMethod, Plan
from ftlang.runtime import RunResult, run_plan, rundir_lock
from ftlang.runtime.errors import RunError
from ftlang.runtime.train import integrity
from ftlang.runtime.train.checkpoint import CHECKPOINT_FILES, list_checkpoints, save_checkpoint
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.loop import LoopState
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.schedule import make_scheduler

from .factories import arithmetic, chat_plan
from .test_resume import CHILD, records

SEEDS = (0, 1)  # each seed: a kill point, then a tear and a zeroing at random places


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    # LoRA dropout draws from torch's RNG every step: a resume from the wrong state would drift.
    return chat_plan(
        tmp_path_factory.mktemp("plan"),
        arithmetic(24),
        method=LoraMethod(rank=2, alpha=4, dropout=0.1),
        model={"hidden": 16, "layers": 1, "heads": 2},
        train={"max_steps": 60, "batch": 4, "micro_batch": 2, "checkpoint_every": 4, "log_every": 2},
    )


@pytest.fixture(scope="module")
def straight(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run_plan(plan, tmp_path_factory.mktemp("straight") / "run", quiet=True)


def assert_same_as(run_dir: Path, result: RunResult, straight: RunResult) -> None:
    assert result.steps == straight.steps and result.final_loss == straight.final_loss  # exact
    assert records(run_dir) == records(straight.run_dir)
    a = load_file(str(run_dir / "model" / "adapter_model.safetensors"))
    b = load_file(str(straight.run_dir / "model" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def start_child(plan: Plan, out: Path) -> subprocess.Popen[bytes]:
    plan_file = out.with_name(out.name + "-plan.json")
    plan_file.write_text(plan_json(plan))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-c", CHILD, str(plan_file), str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_checkpoints(child: subprocess.Popen[bytes], out: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list_checkpoints(out)) < count or not (list_checkpoints(out)[-1] / "manifest.json").exists():
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.002)


def tear(file: Path, rng: random.Random) -> None:
    """Cut the file short at a random length, as a torn write leaves it."""
    os.truncate(file, rng.randrange(file.stat().st_size))


def zero(file: Path) -> None:
    """The same size, every byte zero: what a lost page cache can leave behind."""
    file.write_bytes(bytes(file.stat().st_size))


def tear_metrics(run_dir: Path, rng: random.Random) -> None:
    """A kill mid-write: the last line of metrics.jsonl loses its end and its newline."""
    path = run_dir / "metrics.jsonl"
    text = path.read_bytes().rstrip(b"\n")
    last = text.rfind(b"\n") + 1
    path.write_bytes(text[: last + rng.randrange(1, len(text) - last - 1)])


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_torn_and_zeroed_checkpoints_resume_bit_identical(
    plan: Plan, straight: RunResult, tmp_path: Path, seed: int, capsys: pytest.CaptureFixture[str]
):
    rng = random.Random(seed)
    killed = tmp_path / "killed"
    child = start_child(plan, killed)
    try:
        wait_for_checkpoints(child, killed, 1)
        # One run directory, one writer: a resume while the run still writes is refused.
        with pytest.raises(RunError, match=f"another ft run is writing .*process {child.pid}"):
            run_plan(plan, resume=killed, quiet=True)
        wait_for_checkpoints(child, killed, rng.randint(2, 4))
        time.sleep(rng.uniform(0, 0.05))  # somewhere in the steps that follow, or mid-write
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not (killed / "model").exists(), "the run finished before the kill"
    older, newest = list_checkpoints(killed)[-2:]

    torn = tmp_path / "torn"
    shutil.copytree(killed, torn)
    victim = rng.choice(sorted(p.name for p in newest.iterdir()))
    tear(torn / "checkpoints" / newest.name / victim, rng)
    assert_same_as(torn, run_plan(plan, resume=torn, quiet=True), straight)
    said = capsys.readouterr().err
    assert f"skipping checkpoint {newest.name}" in said and f"{victim}" in said
    assert f"resuming from {older.name}" in said

    zeroed = tmp_path / "zeroed"
    shutil.copytree(killed, zeroed)
    victim = rng.choice(["weights.safetensors", "optimizer.pt", "trainer_state.pt", "scheduler.pt"])
    zero(zeroed / "checkpoints" / newest.name / victim)
    tear_metrics(zeroed, rng)
    assert_same_as(zeroed, run_plan(plan, resume=zeroed, quiet=True), straight)
    assert f"{victim} does not match its sha256" in capsys.readouterr().err

    # No intact checkpoint left: a clear error that names the damaged files, not a restart.
    for path in list_checkpoints(killed):
        zero(path / "weights.safetensors")
    with pytest.raises(RunError, match="no intact checkpoint left") as err:
        run_plan(plan, resume=killed, quiet=True)
    assert str(newest / "weights.safetensors") in err.value.message
    assert str(older / "weights.safetensors") in err.value.message


def test_a_run_killed_before_its_first_checkpoint_starts_over(plan: Plan, straight: RunResult, tmp_path: Path):
    # Kill-like leftovers: a half-written checkpoint folder and a torn metrics line.
    run_dir = tmp_path / "run"
    shutil.copytree(straight.run_dir, run_dir, ignore=shutil.ignore_patterns("checkpoints", "model"))
    (run_dir / "checkpoints" / ".tmp-step-00000004-1").mkdir(parents=True)
    with open(run_dir / "metrics.jsonl", "ab") as f:
        f.write(b'{"epoch": 0.1, "lo')
    assert_same_as(run_dir, run_plan(plan, resume=run_dir, quiet=True), straight)
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))


def test_a_kill_mid_swap_puts_the_checkpoint_back(plan: Plan, straight: RunResult, tmp_path: Path):
    # Killed between moving a re-saved step's old folder aside and renaming the new one in.
    run_dir = tmp_path / "run"
    shutil.copytree(straight.run_dir, run_dir)
    newest = list_checkpoints(run_dir)[-1]
    newest.rename(newest.with_name(f".old-{newest.name}-4242"))
    (run_dir / "checkpoints" / f".tmp-{newest.name}-4242").mkdir()
    assert_same_as(run_dir, run_plan(plan, resume=run_dir, quiet=True), straight)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == sorted(
        p.name for p in list_checkpoints(straight.run_dir)
    )


def test_a_line_changed_inside_metrics_is_named(plan: Plan, straight: RunResult, tmp_path: Path):
    run_dir = tmp_path / "run"
    shutil.copytree(straight.run_dir, run_dir)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[1] = "not json"
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunError, match="not a metrics record") as err:
        run_plan(plan, resume=run_dir, quiet=True)
    assert err.value.location == f"{run_dir / 'metrics.jsonl'}:2"


def test_two_writers_of_one_new_run_directory(plan: Plan, tmp_path: Path):
    out = tmp_path / "run"
    out.mkdir()
    with rundir_lock.take(out):  # another run got there first and is still setting up
        with pytest.raises(RunError, match=f"another ft run is writing .*process {os.getpid()}"):
            run_plan(plan, out, quiet=True)
    assert sorted(p.name for p in out.iterdir()) == [rundir_lock.LOCK_FILE]  # nothing written by the loser


@pytest.mark.parametrize("where", ["is a file", "under a file"])
def test_out_that_is_a_file_or_under_one(plan: Plan, tmp_path: Path, where: str):
    file = tmp_path / "afile"
    file.write_text("mine\n")
    out = file if where == "is a file" else file / "sub" / "run"
    with pytest.raises(RunError, match="is a file") as err:
        run_plan(plan, out, quiet=True)
    assert err.value.location == str(out)
    assert file.read_text() == "mine\n" and sorted(tmp_path.iterdir()) == [file]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB filesystem (tmpfs) to fill or make read-only; needs root and mount."""
    disk = tmp_path / "disk"
    disk.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {made.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Write until the disk is full; the file that holds the space."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(bytes(1 << 16))
                f.flush()
        except OSError:
            pass
    return filler


def test_full_disk_mid_run_keeps_the_last_checkpoint(plan: Plan, straight: RunResult, small_disk: Path):
    run_dir = small_disk / "run"

    def fill_after_first_checkpoint() -> None:
        deadline = time.monotonic() + 120
        while not list_checkpoints(run_dir) and time.monotonic() < deadline:
            time.sleep(0.001)
        fill(small_disk)

    filler = threading.Thread(target=fill_after_first_checkpoint)
    filler.start()
    with pytest.raises(RunError, match="No space left on device") as err:
        run_plan(plan, run_dir, quiet=True)
    filler.join()
    assert "--resume" in (err.value.help or "")
    assert not list((run_dir / "checkpoints").glob(".tmp-*")), "a half-written checkpoint was left"
    (small_disk / "filler").unlink()
    assert_same_as(run_dir, run_plan(plan, resume=run_dir, quiet=True), straight)


def test_full_disk_at_the_start_leaves_nothing(plan: Plan, small_disk: Path):
    fill(small_disk)
    with pytest.raises(RunError, match="cannot create the run directory: No space left on device"):
        run_plan(plan, small_disk / "runs" / "run", quiet=True)
    assert [p.name for p in small_disk.iterdir()] == ["filler"]


def test_read_only_out(plan: Plan, small_disk: Path):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(RunError, match="cannot create the run directory: Read-only file system"):
        run_plan(plan, small_disk / "run", quiet=True)
    assert not list(small_disk.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through folder permissions (the read-only mount covers it)")
def test_unwritable_out(plan: Plan, tmp_path: Path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(RunError, match="cannot create the run directory: Permission denied"):
            run_plan(plan, parent / "run", quiet=True)
        assert not list(parent.iterdir())
    finally:
        parent.chmod(0o755)


@pytest.mark.parametrize("fails_in", ["weights.safetensors", "optimizer.pt", "checkpoint.json"])
def test_a_checkpoint_the_disk_cannot_hold_is_removed_whole(small_disk: Path, fails_in: str):
    model = torch.nn.Linear(200, 200)
    optimizer = make_optimizer(model, 1e-2, 0.0)
    scheduler = make_scheduler(optimizer, 10, 0, "linear")
    model(torch.ones(1, 200)).sum().backward()
    optimizer.step()
    first = save_checkpoint(small_disk, model, optimizer, scheduler, LoopState(DataOrder(4, 0), step=1), 0.25)
    # Room for the files written before `fails_in` and half of it (written in this order).
    before = CHECKPOINT_FILES[: CHECKPOINT_FILES.index(fails_in)]
    room = sum((first / f).stat().st_size for f in before) + (first / fails_in).stat().st_size // 2
    stat = os.statvfs(small_disk)
    (small_disk / "filler").write_bytes(bytes(max(stat.f_bavail * stat.f_frsize - room, 0)))
    with pytest.raises(OSError) as err:
        save_checkpoint(small_disk, model, optimizer, scheduler, LoopState(DataOrder(4, 0), step=2), 0.5)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(first.with_name("step-00000002"))
    assert list_checkpoints(small_disk) == [first] and integrity.damage(first, CHECKPOINT_FILES) is None
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]  # no half-written folder
