"""`ft run` on a recipe with a sweep trains every point and writes a ranked comparison."""

import json
import subprocess
import sys

import pytest

from ftlang.cli.sweep_command import _recorded_key, rank_runs
from ftlang.compiler.api import check_text
from tests.conftest import RECIPES, REPO


def test_a_2x2_sweep_runs_and_ranks_its_runs(tmp_path):
    out = tmp_path / "sweep"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftlang.cli.main",
            "run",
            str(RECIPES / "sft-sweep.ft"),
            "--quiet",
            "--out",
            str(out),
            "--set",
            "train.max_steps=2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    comparison = json.loads((out / "comparison.json").read_text())
    runs = comparison["runs"]
    assert comparison["rank_by"] == "loss" and len(runs) == 4
    assert {(r["point"]["train.lr"], r["point"]["method.rank"]) for r in runs} == {
        ("3e-3", "4"),
        ("3e-3", "8"),
        ("1e-2", "4"),
        ("1e-2", "8"),
    }
    scores = [r["score"] for r in runs]
    assert scores == sorted(scores)  # loss: best (lowest) first
    assert len({r["plan_hash"] for r in runs}) == 4
    for run in runs:
        assert (out / run["run_dir"] / "plan.json").is_file()
    table = (out / "comparison.md").read_text()
    assert table.count("\n| ") == 5  # header and four runs


def _row(index, score):
    return {"index": index, "score": score}


def test_runs_rank_in_the_metrics_own_direction():
    rows = [_row(0, 0.5), _row(1, None), _row(2, 0.9), _row(3, 0.1)]
    assert [r["index"] for r in rank_runs(rows, "accuracy")] == [2, 0, 3, 1]  # higher first, missing last
    assert [r["index"] for r in rank_runs(rows, "loss")] == [3, 0, 2, 1]
    with pytest.raises(ValueError, match="no better direction"):
        rank_runs(rows, "length")


def test_a_metric_with_an_argument_is_scored_by_its_recorded_key():
    recipe = (RECIPES / "sft-sweep.ft").read_text()
    plan = check_text(recipe.replace("metrics [", 'metrics [contains("a"), '), str(RECIPES / "x.ft")).plan
    assert plan is not None
    assert _recorded_key(plan, "contains") == 'contains("a")' and _recorded_key(plan, "loss") == "loss"
