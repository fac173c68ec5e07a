"""`track = [tensorboard, mlflow, wandb]`: each tracker, read back with its own library, holds what metrics.jsonl holds.

One short run (MiniLM classification, evaluated during training, a gate) feeds all three;
each test reads one tracker's files offline and compares them with metrics.jsonl and the outcome.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ftlang.plan.canonical import plan_hash
from ftlang.plan.models import Gate, Metric, Plan
from ftlang.runtime import rundir
from ftlang.runtime.evaluation.outcome import read_outcome
from ftlang.runtime.report.trackers import FOLDERS, tracker_key
from ftlang.runtime.run import run_plan

from .factories import classify_plan, tickets

Values = dict[tuple[str, int], list[float]]


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Path]:
    root = tmp_path_factory.mktemp("tracked")
    plan = classify_plan(root, tickets(40), train={"epochs": 1, "batch": 8, "eval_every": 2})
    assert plan.eval is not None
    plan = plan.model_copy(
        update={
            "train": plan.train.model_copy(update={"track": ["tensorboard", "mlflow", "wandb"]}),
            "eval": plan.eval.model_copy(
                update={
                    "metrics": [Metric(name="accuracy"), Metric(name="loss")],
                    "require": [Gate(metric="accuracy", op=">=", value=0.0)],
                }
            ),
        }
    )
    result = run_plan(plan, root / "run", quiet=True)
    return plan, result.run_dir


def expected_values(run_dir: Path) -> Values:
    """Every number of metrics.jsonl at its step, and the outcome of evaluation.json at the last step."""
    values: Values = defaultdict(list)
    records = rundir.MetricsLog(run_dir / rundir.METRICS).read()
    for record in records:
        for key, value in record.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                values[(tracker_key(key), record["step"])].append(float(value))
    outcome = read_outcome(run_dir)
    assert outcome is not None
    last = max(r["step"] for r in records)
    for key in outcome.keys:
        values[(f"outcome/tuned/{key}", last)].append(outcome.tuned[key])
        values[(f"outcome/base/{key}", last)].append(outcome.base[key])
        values[(f"outcome/delta/{key}", last)].append(outcome.tuned[key] - outcome.base[key])
    values[("outcome/require/accuracy_ge_0", last)].append(1.0)
    values[("outcome/passed", last)].append(1.0)
    return dict(values)


def test_the_run_logged_training_eval_base_and_outcome(tracked_run: tuple[Plan, Path]) -> None:
    keys = {key for key, _ in expected_values(tracked_run[1])}
    assert {"loss", "lr", "eval_accuracy", "outcome/base/accuracy", "outcome/passed"} <= keys


def test_tensorboard_event_files_hold_every_value(tracked_run: tuple[Plan, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    plan, run_dir = tracked_run
    events = EventAccumulator(str(run_dir / FOLDERS["tensorboard"]), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    found: Values = defaultdict(list)
    for tag in events.Tags()["scalars"]:
        for event in events.Scalars(tag):
            found[(tag, event.step)].append(event.value)
    expected = expected_values(run_dir)
    assert found.keys() == expected.keys()
    for key, values in expected.items():  # TensorBoard stores float32
        assert sorted(found[key]) == pytest.approx(sorted(values), rel=1e-6), key
    texts = {tag: events.Tensors(tag)[0].tensor_proto.string_val[0].decode() for tag in events.Tags()["tensors"]}
    assert plan_hash(plan) in texts["plan/text_summary"]
    assert json.loads(texts["artifact/plan.json/text_summary"].strip("`\n"))["recipe"] == plan.recipe


def test_mlflow_file_store_holds_every_value_the_plan_and_artifacts(tracked_run: tuple[Plan, Path]) -> None:
    from mlflow.tracking import MlflowClient

    plan, run_dir = tracked_run
    client = MlflowClient(tracking_uri=(run_dir / FOLDERS["mlflow"]).resolve().as_uri())
    experiment = client.get_experiment_by_name(plan.recipe)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == run_dir.name
    expected = expected_values(run_dir)
    found: Values = defaultdict(list)
    for key in run.data.metrics:
        for metric in client.get_metric_history(run.info.run_id, key):
            found[(key, metric.step)].append(metric.value)
    assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in expected.items()}
    assert run.data.params["plan_hash"] == plan_hash(plan)
    assert run.data.params["train.lr"] == str(plan.train.lr) and run.data.params["method.rank"] == "8"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"plan.json", "lock.json"}


def test_wandb_offline_run_holds_every_value_and_the_plan(tracked_run: tuple[Plan, Path]) -> None:
    pytest.importorskip("wandb", reason="wandb is not installed: pip install 'ftlang[wandb]'")
    plan, run_dir = tracked_run
    (offline,) = (run_dir / FOLDERS["wandb"]).glob("offline-run-*")
    records = list(wandb_records(next(offline.glob("run-*.wandb"))))
    found: dict[tuple[str, int], float] = {}
    config: dict[str, Any] = {}
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            found.update({(k, row["_step"]): v for k, v in row.items() if not k.startswith("_")})
        elif kind in ("run", "config"):  # the config opens the run; later changes come as config records
            update = record.run.config.update if kind == "run" else record.config.update
            config.update({item.key: json.loads(item.value_json) for item in update})
    # W&B keeps one value per key and step: the last one logged.
    assert found == {key: values[-1] for key, values in expected_values(run_dir).items()}
    assert config["plan_hash"] == plan_hash(plan) and config["train.lr"] == str(plan.train.lr)
    assert (offline / "files" / "plan.json").is_file() and (offline / "files" / "lock.json").is_file()


def wandb_records(path: Path) -> Any:
    """The records of W&B's offline run file, parsed with wandb's own protobuf schema.

    The file is a 7-byte header (`:W&B`, a magic number, a version) then LevelDB's log format:
    32 KiB blocks of chunks, each a 7-byte header (CRC, length, type: full, first, middle, last).
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, pos, pending = 32768, 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            yield wandb_internal_pb2.Record.FromString(pending)
            pending = b""


def test_a_run_that_dies_leaves_its_tracker_run_marked_failed(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from ftlang.plan.canonical import plan_json
    from ftlang.runtime.report.trackers import open_trackers

    plan = classify_plan(tmp_path, tickets(10))
    plan = plan.model_copy(update={"train": plan.train.model_copy(update={"track": ["mlflow"]})})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / rundir.PLAN).write_text(plan_json(plan), encoding="utf-8")
    trackers = open_trackers(plan, run_dir)
    assert trackers is not None
    trackers.log({"step": 1, "loss": 2.5, "lr": 1e-3})
    trackers._close_failed()  # what the process's exit runs when the run never reached its end
    client = MlflowClient(tracking_uri=(run_dir / FOLDERS["mlflow"]).resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name(plan.recipe).experiment_id])
    assert run.info.status == "FAILED" and run.data.metrics == {"loss": 2.5, "lr": 1e-3}
    trackers.finish(None, 1)  # closing twice is harmless: the run stays as it ended
    assert client.get_run(run.info.run_id).info.status == "FAILED"
