"""The training loop's hooks for a run: metrics.jsonl, the progress bar, evaluation and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ftlang.runtime import rundir
from ftlang.runtime.evaluation.during_run import RunEvaluation
from ftlang.runtime.train import distributed
from ftlang.runtime.train.loop import Hooks, LoopState
from ftlang.runtime.train.progress import Progress


class RunHooks(Hooks):
    """What the loop reports goes to the run directory (rank 0 only) and the terminal."""

    def __init__(
        self,
        metrics: rundir.MetricsLog,
        progress: Progress,
        evaluation: RunEvaluation | None,
        save: Callable[[LoopState], None],
        stop_after: int | None = None,
    ):
        self.metrics, self.bar, self._evaluation, self._save = metrics, progress, evaluation, save
        self._stop_after = stop_after  # `ft reproduce --steps N`: the first N steps of the same schedule

    def log(self, record: dict[str, Any]) -> None:
        if distributed.is_main():
            self.metrics.write(record)

    def evaluate(self, step: int) -> dict[str, float] | None:
        return self._evaluation.during(step) if self._evaluation else None

    def stop(self, step: int) -> bool:
        if self._stop_after is not None and step >= self._stop_after:
            return True
        return self._evaluation is not None and self._evaluation.should_stop

    def checkpoint(self, state: LoopState) -> None:
        self._save(state)

    def progress(self, state: LoopState, loss: float | None, tok_s: float | None) -> None:
        self.bar.update(state.step, loss, tok_s)
