"""Checkpoints: trainable weights, optimizer, scheduler, RNG and data position, written atomically with checksums."""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ftlang.runtime.errors import RunError
from ftlang.runtime.train import distributed, integrity
from ftlang.runtime.train.loop import LoopState

CHECKPOINTS = "checkpoints"
KEEP = 2  # newest checkpoints kept; older ones are deleted once a newer one is complete
_WEIGHTS, _OPTIM, _SCHED, _STATE, _INFO = (
    "weights.safetensors",
    "optimizer.pt",
    "scheduler.pt",
    "trainer_state.pt",
    "checkpoint.json",
)
CHECKPOINT_FILES = (_WEIGHTS, _OPTIM, _SCHED, _STATE, _INFO)


def _name(step: int) -> str:
    return f"step-{step:08d}"


def rng_state() -> dict[str, Any]:
    # Plain lists and tensors only, so torch.load(weights_only=True) can read it back.
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights that change: LoRA adapters and saved heads, or every weight for full.

    Under FSDP each is gathered whole, so every rank must call this.
    """
    return {
        n: distributed.full_tensor(p.detach()).cpu().contiguous()
        for n, p in model.named_parameters()
        if p.requires_grad
    }


def load_trainable(model: torch.nn.Module, file: Path) -> None:
    """Copy weights that `trainable_state` saved back into the model's trainable parameters."""
    weights = load_file(str(file))
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if set(weights) != set(params):
        missing = sorted(set(params) - set(weights))[:3]
        raise ValueError(f"{file} does not match the model (e.g. {missing})")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(distributed.shard_like(p, weights[n].to(p.device)))


def save_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: LoopState,
    epoch: float,
) -> Path:
    """Write `checkpoints/step-N/` via a temp folder and a rename: a kill leaves no half checkpoint.

    Every rank calls it (FSDP's shards and each rank's RNG state are gathered); rank 0 writes.
    """
    root = Path(run_dir) / CHECKPOINTS
    final = root / _name(state.step)
    weights = trainable_state(model)
    optim = distributed.optimizer_state(model, optimizer)
    rngs = distributed.gather_objects(rng_state())
    if not distributed.is_main():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{_name(state.step)}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    info = {"step": state.step, "epoch": epoch, "tokens": state.tokens, "loss": state.last_loss}
    with integrity.removed_on_failure(tmp, final):  # a full disk: every complete checkpoint stays
        tmp.mkdir()
        _write_files(tmp, weights, optim, scheduler.state_dict(), {"loop": state.state_dict(), "rng": rngs}, info)
    _swap_in(tmp, final)
    for stale in list_checkpoints(run_dir)[:-KEEP]:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def _write_files(
    folder: Path, weights: dict[str, torch.Tensor], optim: Any, sched: Any, trainer: Any, info: dict[str, Any]
) -> None:
    """Every file of a checkpoint, then their checksums: the manifest is written last."""
    save_file(weights, str(folder / _WEIGHTS))
    for name, obj in ((_OPTIM, optim), (_SCHED, sched), (_STATE, trainer)):  # one RNG state per rank in trainer
        with open(folder / name, "wb") as f:  # a Python file: a failed write surfaces as its OSError
            torch.save(obj, f)
    (folder / _INFO).write_text(json.dumps(info, indent=2) + "\n")
    integrity.write_manifest(folder, list(CHECKPOINT_FILES))


def _swap_in(tmp: Path, final: Path) -> None:
    """Rename the complete folder into place (a resumed run re-saving a step swaps out the old one)."""
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        tmp.rename(final)
    integrity.fsync_path(final.parent)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints, oldest first: only a complete folder is renamed to `step-N` (temp folders are ignored)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-"))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def usable_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint whose files match their checksums, the same on every rank.

    Each newer one that does not is named on stderr with why; when there are checkpoints
    but none is intact, a RunError names the damage. None when there is no checkpoint at all.
    """
    found, error = distributed.broadcast(_choose(Path(run_dir)) if distributed.is_main() else (None, None))
    if error is not None:
        raise RunError(error, help="restore the damaged files from a copy, or start the run again in a new directory")
    return found


def _choose(run_dir: Path) -> tuple[Path | None, str | None]:
    """Rank 0 alone reads the files: the checkpoint to resume from, or why none can be."""
    _tidy(run_dir / CHECKPOINTS)
    damaged: list[tuple[str, str]] = []
    for path in reversed(list_checkpoints(run_dir)):
        why = integrity.damage(path, CHECKPOINT_FILES)
        if why is None:
            for name, reason in damaged:
                print(f"warning: skipping checkpoint {name}: {reason}", file=sys.stderr)
            if damaged:
                print(f"warning: resuming from {path.name}, the newest intact checkpoint", file=sys.stderr)
            return path, None
        damaged.append((path.name, why))
    if damaged:
        return None, f"no intact checkpoint left to resume from: {'; '.join(why for _, why in damaged)}"
    return None, None


def _tidy(root: Path) -> None:
    """Drop writes a kill or a full disk cut short; put back a checkpoint a kill left mid-swap."""
    if not root.is_dir():
        return
    for stale in root.glob(".tmp-step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in root.glob(".old-step-*"):
        name = old.name.removeprefix(".old-").rsplit("-", 1)[0]
        if (root / name).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(root / name)


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: LoopState,
    device: torch.device,
) -> None:
    """Restore everything `save_checkpoint` wrote, in place; RNG last so nothing consumes it after."""
    load_trainable(model, path / _WEIGHTS)
    distributed.load_optimizer_state(
        model, optimizer, torch.load(path / _OPTIM, map_location=device, weights_only=True)
    )
    scheduler.load_state_dict(torch.load(path / _SCHED, weights_only=True))
    saved = torch.load(path / _STATE, weights_only=True)
    state.load_state_dict(saved["loop"], device)
    set_rng_state(saved["rng"][distributed.rank()])
