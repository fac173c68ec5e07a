"""Checkpoints: trainable weights, optimizer, scheduler, RNG and data position, written atomically."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ftlang.runtime.train import distributed
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
    tmp.mkdir()
    save_file(weights, str(tmp / _WEIGHTS))
    torch.save(optim, tmp / _OPTIM)
    torch.save(scheduler.state_dict(), tmp / _SCHED)
    torch.save({"loop": state.state_dict(), "rng": rngs}, tmp / _STATE)  # one RNG state per rank
    info = {"step": state.step, "epoch": epoch, "tokens": state.tokens, "loss": state.last_loss}
    (tmp / _INFO).write_text(json.dumps(info, indent=2) + "\n")
    for f in tmp.iterdir():  # data on disk before the rename makes it visible
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():  # a resumed run re-saving a step: swap, then drop the old one
        old = root / f".old-{_name(state.step)}-{os.getpid()}"
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        tmp.rename(final)
    for stale in list_checkpoints(run_dir)[:-KEEP]:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temp folders of a killed write are ignored)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / _INFO).exists())


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


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
