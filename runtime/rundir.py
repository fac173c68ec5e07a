"""The run directory: plan, lock, metrics, checkpoints, model; its layout and atomic writes."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from ftlang.plan.canonical import load_plan, plan_hash, plan_json, plan_to_data
from ftlang.plan.models import Plan
from ftlang.runtime import rundir_lock
from ftlang.runtime.errors import RunError
from ftlang.runtime.pins import library_versions
from ftlang.runtime.train import distributed, integrity
from ftlang.runtime.train.launch import check_resume_world

if TYPE_CHECKING:
    from ftlang.runtime.report.trackers import Trackers

PLAN, LOCK, METRICS, SUMMARY = "plan.json", "lock.json", "metrics.jsonl", "summary.json"
MODEL, BASE = "model", "base"
LOCK_VERSION = 1


def default_run_dir(plan: Plan, parent: Path | None = None) -> Path:
    """`runs/<recipe>-<UTC YYYYmmdd-HHMMSS>-<plan hash 8>` under the current directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = (parent or Path.cwd() / "runs") / f"{plan.recipe}-{stamp}-{plan_hash(plan)[:8]}"
    path, n = base, 1
    while path.exists():  # two runs of one plan in the same second
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def check_free(run_dir: Path) -> None:
    """Refuse a path that cannot become a new run: a file, one under a file, or a folder that holds a run."""
    run_dir = Path(run_dir)
    nearest = next((p for p in (run_dir, *run_dir.parents) if p.exists()), None)
    if nearest is not None and not nearest.is_dir():
        what = "is a file" if nearest == run_dir else f"is under {nearest}, which is a file"
        raise RunError(f"the run directory {what}", location=str(run_dir), help="pick a folder for --out")
    if (run_dir / PLAN).exists():
        raise RunError(f"{run_dir} already holds a run", help="resume it, or pick another directory")


def create(run_dir: Path, plan: Plan, held: ExitStack) -> Path:
    """A new run directory holding plan.json, locked by this writer for as long as `held` is open.

    What cannot be written (a read-only or full disk, no permission) is a RunError, and the
    folders this call made are removed again: nothing half-written is left behind.
    """
    run_dir = Path(run_dir)
    check_free(run_dir)
    made = None
    try:
        made = _make_dirs(run_dir)
        held.enter_context(rundir_lock.take(run_dir))
        check_free(run_dir)  # again under the lock: of two runs racing for one folder, one wins
        write_atomic(run_dir / PLAN, plan_json(plan))
    except OSError as exc:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise RunError(
            f"cannot create the run directory: {exc.strerror or exc}",
            location=str(exc.filename or run_dir),
            help="pick a folder you can write, on a disk with room, for --out",
        ) from exc
    return run_dir


def _make_dirs(run_dir: Path) -> Path | None:
    """`mkdir -p`; the topmost folder this call made itself (another process's are not ours to remove)."""
    ours = None
    for path in reversed([p for p in (run_dir, *run_dir.parents) if not p.exists()]):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        ours = ours or path
    return ours


def _on_main(act: Callable[[], object]) -> None:
    """`act` on rank 0 alone; a RunError it raises is raised on every rank, so all stop alike."""
    error = None
    if distributed.is_main():
        try:
            act()
        except RunError as exc:
            error = exc
    error = distributed.broadcast(error)
    if error is not None:
        raise error


@contextmanager
def writing() -> Iterator[ExitStack]:
    """Holds the writer lock a run takes (see `open_run_dir`) until the run ends; a disk that
    cannot be written (full, read-only, no permission) stops the run as a RunError, not a bug."""
    with ExitStack() as held:
        try:
            yield held
        except OSError as exc:
            if exc.errno not in integrity.STORAGE_ERRNOS:
                raise
            raise RunError(
                f"the run stopped: {exc.strerror}",
                location=str(exc.filename) if exc.filename else None,
                help="free some space (or fix the permissions), then `ft run --resume RUNDIR` "
                "continues from the last intact checkpoint",
            ) from exc


def open_run_dir(
    plan: Plan,
    out_dir: Path | None,
    resume: Path | None,
    data_files: Iterable[dict[str, str]],
    held: ExitStack,
) -> tuple[Path, int | None]:
    """The run directory, new or resumed and locked for this run, and the thread count a resumed CPU run must reuse.

    `data_files` are the {"path", "sha256"} the run read: a resume refuses changed data.
    """
    if resume is None:
        run_dir = Path(out_dir) if out_dir else default_run_dir(plan)
        # Rank 0 alone looks and creates (another rank could see the folder rank 0 just made);
        # its error reaches every rank, so all stop alike.
        _on_main(lambda: (check_free(run_dir), create(run_dir, plan, held)))
        return run_dir, None
    run_dir = Path(resume)
    check_resume_world(run_dir, plan.compute.processes)
    check_resumable(run_dir, plan)
    _on_main(lambda: held.enter_context(rundir_lock.take(run_dir)))
    check_same_data(run_dir, data_files)
    lock = read_lock(run_dir)
    if lock and lock.get("device", {}).get("type") == "cpu":
        # The same intra-op thread count as the start keeps CPU float sums bit-identical.
        return run_dir, int(lock["device"]["threads"])
    return run_dir, None


def discard(run_dir: Path, existed: bool) -> None:
    """Undo a new run directory when setup fails (e.g. the hub is unreachable): no husks."""
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for name in (PLAN, LOCK):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / BASE, ignore_errors=True)


def save_dir_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Write a folder beside the target, then swap it in: a kill never leaves half a model."""
    tmp, old = target.with_name(f".tmp-{target.name}"), target.with_name(f".old-{target.name}")
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    with integrity.removed_on_failure(tmp, target):  # a full disk leaves no half-written folder
        write(tmp)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)


def check_resumable(run_dir: Path, plan: Plan) -> None:
    """A run resumes only under the exact plan it started with (root aside)."""
    path = Path(run_dir) / PLAN
    if not path.exists():
        raise RunError(f"{run_dir} is not a run directory (no {PLAN})")
    old = load_plan(path.read_text(encoding="utf-8"))
    if plan_hash(old) != plan_hash(plan):
        raise RunError(
            f"the plan differs from the one {run_dir} started with ({plan_hash(plan)[:8]} vs {plan_hash(old)[:8]})",
            help="resume with the same recipe and parameters, or start a new run",
        )


def read_lock(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / LOCK
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def check_same_data(run_dir: Path, data_files: Iterable[dict[str, str]]) -> None:
    """A resumed run reads the very files it started with, by content hash."""
    lock = read_lock(run_dir)
    if not lock:
        return
    before = {(f["path"], f["sha256"]) for d in lock.get("data", []) for f in d.get("files", [])}
    now = {(f["path"], f["sha256"]) for f in data_files}
    if before != now:
        raise RunError(
            "the data changed since this run started; resuming would mix two datasets",
            location=str(run_dir),
            help="restore the data, or start a new run",
        )


def device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": device.type,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["name"] = platform.processor() or platform.machine()
        info["deterministic"] = True
    return info


def build_lock(
    plan: Plan,
    data: Iterable[dict[str, Any]],
    model: dict[str, Any],
    method: dict[str, Any],
    device: torch.device,
    skipped_rendering: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "lock_version": LOCK_VERSION,
        "recipe": plan.recipe,
        "plan_hash": plan_hash(plan),
        # The plan as it ran: a plan.json edited since is refused with what changed (plan/edits.py).
        "plan": plan_to_data(plan),
        "sources": [s.model_dump() for s in plan.sources],
        "data": list(data),
        "skipped_rendering": skipped_rendering or [],  # rows whose template or label failed
        "model": model,
        "method": method,
        "versions": library_versions(),
        "seed": plan.train.seed,
        "split_seeds": {d.name: d.split.seed for d in plan.data},
        "device": device_info(device),
        # The world size and how it ran: plan.compute, with the process group's actual backend.
        "compute": {**plan.compute.model_dump(), "backend": str(dist.get_backend()) if dist.is_initialized() else None},
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class MetricsLog:
    """metrics.jsonl: one JSON object per line, flushed as written so a kill loses little.

    `trackers` (the plan's `track`, on the process that writes) receive every record written.
    """

    def __init__(self, path: Path, trackers: Trackers | None = None):
        self.path = Path(path)
        self.trackers = trackers

    def truncate_after(self, step: int) -> None:
        """On resume: drop records past the checkpoint; the resumed run writes them again."""
        if not self.path.exists():
            return
        keep = [line + "\n" for record, line in self._records() if record.get("step", 0) <= step]
        write_atomic(self.path, "".join(keep))

    def _records(self) -> list[tuple[dict[str, Any], str]]:
        """Each record and its line; a last line cut short (a kill or a full disk mid-write) is dropped."""
        lines = self.path.read_bytes().split(b"\n")
        records = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                records.append((record, line.decode("utf-8")))
            elif n < len(lines):  # a whole line, not a torn one: the file was changed by something else
                raise RunError(
                    "not a metrics record", location=f"{self.path}:{n}", help="restore the file or remove the line"
                )
        return records

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        if self.trackers is not None:
            self.trackers.log(record)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
