"""An edited plan.json is refused with what changed: field by field against the copy a run directory
recorded or the recipe compiled again, and plainly said when neither is the original."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ftlang.plan.canonical import load_plan, plan_to_data

from .test_consent import _plan_file, ft


def _edit(path: Path, change: dict[str, dict[str, object]]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for block, fields in change.items():
        data[block].update(fields)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_plan_json_shows_its_edited_fields_against_the_recipe(tmp_path: Path) -> None:
    plan = _plan_file(tmp_path)
    _edit(plan, {"train": {"lr": 0.5}, "model": {"dtype": "float16"}})
    done = ft("run", str(plan), "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and not (tmp_path / "run").exists()
    assert "the plan was edited: it claims plan_hash" in done.stderr
    assert "quickstart.ft compiled again" in done.stderr
    assert '      model.dtype: "auto" → "float16"\n      train.lr: 0.002 → 0.5\n' in done.stderr, done.stderr


def _run_directory(tmp_path: Path) -> Path:
    """A run directory of a plan whose recipe is gone: only its lock.json's copy can say what changed."""
    from ftlang.runtime import rundir

    run = tmp_path / "run"
    run.mkdir()
    plan_path = _plan_file(run)
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    data["root"] = str(tmp_path / "gone")  # `root` is outside the hash: the plan stays pinned
    plan_path.write_text(json.dumps(data), encoding="utf-8")
    lock = rundir.build_lock(load_plan(plan_path.read_text(encoding="utf-8")), [], {}, {}, torch.device("cpu"))
    (run / "lock.json").write_text(json.dumps(lock), encoding="utf-8")
    (run / "summary.json").write_text("{}")
    return run


def test_a_run_directory_shows_its_edited_fields_against_its_lock(tmp_path: Path) -> None:
    run = _run_directory(tmp_path)
    _edit(run / "plan.json", {"train": {"epochs": 7}})
    for args in (["run", "--resume", str(run)], ["eval", str(run)]):
        done = ft(*args)
        assert done.returncode == 1, done.stderr
        assert f"(against the plan {run / 'lock.json'} recorded when the run started)" in done.stderr, done.stderr
        assert "      train.epochs: 3 → 7\n" in done.stderr, done.stderr


def test_an_edit_without_a_known_original_is_said_plainly(tmp_path: Path) -> None:
    run = _run_directory(tmp_path)
    (run / "lock.json").unlink()
    _edit(run / "plan.json", {"train": {"epochs": 7}})
    done = ft("eval", str(run))
    assert done.returncode == 1 and "what changed cannot be shown" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_lock_records_the_plan_as_it_ran(tmp_path: Path) -> None:
    from ftlang.runtime import rundir

    plan = load_plan(_plan_file(tmp_path).read_text(encoding="utf-8"))
    assert rundir.build_lock(plan, [], {}, {}, torch.device("cpu"))["plan"] == plan_to_data(plan)


def test_a_plan_json_with_a_value_the_plan_refuses_names_the_field(tmp_path: Path) -> None:
    plan = _plan_file(tmp_path)
    _edit(plan, {"train": {"lr": "fast", "warmup": 3}})
    done = ft("run", str(plan), "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and not (tmp_path / "run").exists()
    assert f"error: {plan} is not a valid plan: train.lr: Input should be a valid number" in done.stderr, done.stderr
    assert "train.warmup: Extra inputs are not permitted" in done.stderr and "Traceback" not in done.stderr
