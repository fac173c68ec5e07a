"""Early stopping and keep_best: follow one eval metric during training, keep the best weights."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ftlang.plan.models import Metric
from ftlang.runtime.evaluation import metrics as m
from ftlang.runtime.train import distributed
from ftlang.runtime.train.checkpoint import load_trainable, trainable_state

# The trainable weights of the best evaluation, with its step in the file's metadata: one
# file, replaced atomically, so weights and step can never disagree.
BEST = "best.safetensors"


class BestTracker:
    """The best evaluation so far of one metric, and evaluations since it improved.

    Only evaluations during training count (step > 0): the base model is never "best", so the
    model written is always a trained one. A tie is not an improvement. With `keep`, every new
    best's trainable weights go to RUNDIR/best.safetensors (on disk, so a resumed run finds them).
    """

    def __init__(self, metric: Metric, patience: int | None, keep: bool, run_dir: Path):
        self.key = m.metric_key(metric)  # records carry it as `eval_<key>`
        self.higher = m.higher_is_better(metric.name)
        self.patience, self.keep, self.path = patience, keep, Path(run_dir) / BEST
        self.value: float | None = None
        self.step: int | None = None
        self.since = 0

    def _improves(self, value: float) -> bool:
        if self.value is None:
            return True
        return value > self.value if self.higher else value < self.value

    def observe(self, step: int, value: float) -> bool:
        """Count one evaluation; True when it is a new best."""
        if self._improves(value):
            self.value, self.step, self.since = value, step, 0
            return True
        self.since += 1
        return False

    def replay(self, records: Sequence[dict[str, Any]]) -> None:
        """Rebuild the state from metrics.jsonl after a resume (records up to the checkpoint)."""
        for r in records:
            if r.get("step", 0) > 0 and f"eval_{self.key}" in r:
                self.observe(r["step"], r[f"eval_{self.key}"])

    def update(self, step: int, values: dict[str, Any], model: torch.nn.Module) -> None:
        # A metric the method did not report is NaN: never better, so patience runs out.
        if self.observe(step, values.get(self.key, math.nan)) and self.keep:
            self._save(model, step)

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.since >= self.patience

    def _save(self, model: torch.nn.Module, step: int) -> None:
        weights = trainable_state(model)  # every rank: FSDP gathers its shards
        if not distributed.is_main():  # rank 0 alone writes the run directory
            return
        tmp = self.path.with_name(f".{BEST}.{os.getpid()}.tmp")  # one per process: ranks never share it
        save_file(weights, str(tmp), metadata={"step": str(step), "metric": self.key})
        os.replace(tmp, self.path)

    def restore(self, model: torch.nn.Module) -> int | None:
        """Load the kept weights into the model; the step they are from, or None if none were kept."""
        if not self.keep or not self.path.exists():
            return None
        load_trainable(model, self.path)
        with safe_open(str(self.path), "pt") as f:
            return int(f.metadata()["step"])
