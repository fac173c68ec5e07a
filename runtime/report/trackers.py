"""Experiment trackers (`track = [...]`): what metrics.jsonl records, also sent to TensorBoard, MLflow and W&B.

Each tracker receives every numeric field of every metrics.jsonl record at its step (training
loss and learning rate, eval metrics, the base model's), then the outcome at the last step
(base, tuned and delta of each metric, each gate and guard as 1 or 0), the plan's hash and
fields as run parameters, and plan.json, lock.json and the recipe files as artifacts. All of
them work offline and write inside the run directory by default: TensorBoard event files in
`tensorboard/`, an MLflow file store in `mlruns/` (unless MLFLOW_TRACKING_URI names another),
a W&B run in `wandb/` in offline mode (unless WANDB_MODE says otherwise).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ftlang.plan.canonical import plan_hash, plan_to_data
from ftlang.plan.catalogue import TRACKERS
from ftlang.plan.edits import flatten
from ftlang.plan.models import Plan
from ftlang.runtime import rundir
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation.outcome import Outcome
from ftlang.runtime.redact import redact, redact_param

FOLDERS = {"tensorboard": "tensorboard", "mlflow": "mlruns", "wandb": "wandb"}
_OPERATORS = {">=": "ge", "<=": "le", ">": "gt", "<": "lt"}
_MAX_PARAM = 500  # longer values (lists of modules, templates) are cut: a parameter is for reading, not for rebuilding


class Tracker(Protocol):
    def log(self, values: Mapping[str, float], step: int) -> None: ...

    def close(self, artifacts: list[Path], failed: bool) -> None: ...


class Trackers:
    """The trackers of one run; MetricsLog feeds them every record it writes."""

    def __init__(self, trackers: list[Tracker], plan: Plan, run_dir: Path):
        self._trackers, self._plan, self._run_dir = trackers, plan, run_dir
        self._closed = False
        atexit.register(self._close_failed)  # a run that dies still leaves its trackers readable

    def log(self, record: Mapping[str, Any]) -> None:
        values = {tracker_key(k): float(v) for k, v in record.items() if k != "step" and _is_number(v)}
        if values:
            for tracker in self._trackers:
                tracker.log(values, int(record.get("step", 0)))

    def finish(self, outcome: Outcome | None, step: int) -> None:
        """The outcome at the last step, then the artifacts; each tracker's run ends as finished."""
        if outcome is not None:
            self.log({"step": step, **outcome_scalars(outcome)})
        self._close(failed=False)

    def _close_failed(self) -> None:
        self._close(failed=True)

    def _close(self, *, failed: bool) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._close_failed)
        with tempfile.TemporaryDirectory(prefix="ft-track-") as scratch:
            artifacts = _artifacts(self._plan, self._run_dir, Path(scratch))
            for tracker in self._trackers:
                tracker.close(artifacts, failed)


def open_trackers(plan: Plan, run_dir: Path) -> Trackers | None:
    """The trackers the plan names, opened (rank 0 only); None when it names none."""
    if not plan.train.track:
        return None
    params = run_params(plan)
    name = run_dir.name
    return Trackers([_OPENERS[kind](plan, run_dir, name, params) for kind in plan.train.track], plan, run_dir)


def tracker_key(name: str) -> str:
    """A metric name every tracker accepts (MLflow's rule is the strictest): `contains("x")` → `contains__x__`."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name)


def outcome_scalars(outcome: Outcome) -> dict[str, float]:
    """Base, tuned and delta of each metric; each gate and guard, 1 when it passed; the verdict."""
    values: dict[str, float] = {}
    for key in outcome.keys:
        for side, measured in (("base", (outcome.base or {}).get(key)), ("tuned", outcome.tuned.get(key))):
            if measured is not None:
                values[f"outcome/{side}/{key}"] = measured
        delta = outcome.delta(key)
        if delta is not None:
            values[f"outcome/delta/{key}"] = delta
    for gate in outcome.verdict.gates:  # `accuracy >= 0.8` → outcome/require/accuracy_ge_0.8
        name = "_".join(_OPERATORS.get(word, word) for word in gate.gate.split())
        values[f"outcome/require/{name}"] = float(gate.passed)
    for guard in outcome.verdict.guards:
        values[f"outcome/guard/{guard.name}"] = float(guard.passed)
    values["outcome/passed"] = float(outcome.passed)
    return values


def run_params(plan: Plan) -> dict[str, str]:
    """The plan as run parameters: its hash, and every field as a dotted name (secrets masked)."""
    data = {k: v for k, v in plan_to_data(plan).items() if k not in ("root", "sources", "params")}
    params = {"plan_hash": plan_hash(plan), "recipe": plan.recipe}
    params.update({f"param.{k}": redact_param(k, v) for k, v in plan.params.items()})
    for name, value in flatten(data).items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        params[name] = redact(text)[:_MAX_PARAM]
    return params


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _artifacts(plan: Plan, run_dir: Path, scratch: Path) -> list[Path]:
    """plan.json (its params masked), lock.json and the recipe files, as copies with secrets masked."""
    plan_data = json.loads((run_dir / rundir.PLAN).read_text(encoding="utf-8"))
    plan_data["params"] = {k: redact_param(k, v) for k, v in plan_data.get("params", {}).items()}
    texts = {rundir.PLAN: json.dumps(plan_data, indent=2, sort_keys=True) + "\n"}
    if (run_dir / rundir.LOCK).is_file():
        texts[rundir.LOCK] = (run_dir / rundir.LOCK).read_text(encoding="utf-8")
    for source in plan.sources:
        path = Path(plan.root) / source.path
        if path.suffix == ".ft" and path.is_file():
            texts.setdefault(path.name, path.read_text(encoding="utf-8"))
    out = []
    for name, text in texts.items():
        (scratch / name).write_text(redact(text), encoding="utf-8")
        out.append(scratch / name)
    return out


def _missing(kind: str) -> RunError:
    spec = TRACKERS[kind]
    return RunError(
        f"the tracker `{kind}` needs the package `{spec.distribution}`, which is not installed here",
        help=f"pip install 'ftlang[{spec.extra}]'",
    )


class _TensorBoard:
    """Event files in the run directory; the plan as a text summary."""

    def __init__(self, plan: Plan, run_dir: Path, name: str, params: Mapping[str, str]):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise _missing("tensorboard") from exc
        self._writer = SummaryWriter(log_dir=str(run_dir / FOLDERS["tensorboard"]))
        table = "\n".join(["| parameter | value |", "|---|---|", *(f"| {k} | `{v}` |" for k, v in params.items())])
        self._writer.add_text("plan", table, 0)

    def log(self, values: Mapping[str, float], step: int) -> None:
        for key, value in values.items():
            self._writer.add_scalar(key, value, step)

    def close(self, artifacts: list[Path], failed: bool) -> None:
        for path in artifacts:
            self._writer.add_text(f"artifact/{path.name}", f"```\n{path.read_text(encoding='utf-8')}\n```", 0)
        self._writer.close()


class _MLflow:
    """An MLflow run through MlflowClient (no global state): the recipe's experiment, the run directory's name."""

    def __init__(self, plan: Plan, run_dir: Path, name: str, params: Mapping[str, str]):
        try:
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise _missing("mlflow") from exc
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / FOLDERS["mlflow"]).resolve().as_uri()
        if uri.startswith("file:"):
            # MLflow keeps its file store for offline use behind this switch.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self._client = MlflowClient(tracking_uri=uri)
        experiment = self._client.get_experiment_by_name(plan.recipe)
        experiment_id = experiment.experiment_id if experiment else self._client.create_experiment(plan.recipe)
        self._run_id = self._client.create_run(experiment_id, run_name=name).info.run_id
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 parameters a call
            self._client.log_batch(self._run_id, params=items[start : start + 100])

    def log(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(key, value, stamp, step) for key, value in values.items()]
        self._client.log_batch(self._run_id, metrics=metrics)

    def close(self, artifacts: list[Path], failed: bool) -> None:
        for path in artifacts:
            self._client.log_artifact(self._run_id, str(path))
        self._client.set_terminated(self._run_id, "FAILED" if failed else "FINISHED")


class _WandB:
    """A W&B run, offline unless WANDB_MODE says otherwise; it never captures the terminal."""

    def __init__(self, plan: Plan, run_dir: Path, name: str, params: Mapping[str, str]):
        try:
            import wandb
        except ImportError as exc:
            raise _missing("wandb") from exc
        self._run = wandb.init(
            project=plan.recipe,
            name=name,
            dir=str(run_dir),
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
            config=dict(params),
            settings=wandb.Settings(silent=True, console="off"),
            reinit="create_new",
        )

    def log(self, values: Mapping[str, float], step: int) -> None:
        self._run.log(dict(values), step=step)

    def close(self, artifacts: list[Path], failed: bool) -> None:
        for path in artifacts:  # files in the run's folder are its files, synced with it
            shutil.copy(path, Path(self._run.dir) / path.name)
        self._run.finish(exit_code=1 if failed else 0)


_OPENERS: dict[str, Callable[[Plan, Path, str, Mapping[str, str]], Tracker]] = {
    "tensorboard": _TensorBoard,
    "mlflow": _MLflow,
    "wandb": _WandB,
}
