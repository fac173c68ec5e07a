"""`ft run` on a recipe with a sweep trains every point and writes a ranked comparison."""

import json
import subprocess
import sys

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
