"""`ft export`: the adapter or the merged model loads with plain transformers/peft and scores as the run did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from ftlang.cli.main import main as ft_main
from ftlang.runtime import run_plan
from ftlang.runtime.data.prompts import Renderer, tokenize
from ftlang.runtime.data.sources import Row

from .factories import chat_plan

# Runs in a fresh interpreter that never imports ftlang: what a serving team's code would do.
SCORE = r"""
import json, sys
import torch
from transformers import AutoModelForCausalLM

folder, base, examples = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
if base:
    from peft import PeftModel
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), folder)
else:
    model = AutoModelForCausalLM.from_pretrained(folder)
model.eval()
total, count = 0.0, 0
with torch.no_grad():
    for ids, labels in examples:
        targets = sum(1 for x in labels[1:] if x != -100)
        out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
        total, count = total + out.loss.item() * targets, count + targets
assert "ftlang" not in sys.modules
print(json.dumps({"loss": total / count, "base": model.peft_config["default"].base_model_name_or_path if base else None}))
"""


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    plan = chat_plan(root, eval_on="train", train={"epochs": 1})
    return plan, run_plan(plan, root / "run", quiet=True)


def _eval_examples(plan, run_dir: Path) -> list[tuple[list[int], list[int]]]:
    tok = AutoTokenizer.from_pretrained(run_dir / "model")
    renderer = Renderer(plan.prompt)
    rows = [renderer.render(Row(r, f"qa.rows[{i}]")) for i, r in enumerate(plan.data[0].source.rows)]
    examples, _ = tokenize(rows, tok, plan.prompt.task, plan.train.max_len)
    return [(e.input_ids, e.labels) for e in examples]


def _score(folder: Path, base: Path | None, examples, cwd: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCORE, str(folder), str(base or "")],
        input=json.dumps(examples),
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_run_names_its_base_relative_to_itself(lora_run):
    _, result = lora_run
    config = json.loads((result.run_dir / "model" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "base"
    assert str(result.run_dir) not in (result.run_dir / "model" / "README.md").read_text()


@pytest.mark.parametrize("merged", [False, True], ids=["adapter", "merged"])
def test_the_export_loads_without_ftlang_and_gives_the_runs_eval_loss(lora_run, tmp_path, merged):
    plan, result = lora_run
    out = tmp_path / "export"
    assert ft_main(["export", str(result.run_dir), str(out), *(["--merged"] if merged else [])]) == 0
    files = {p.name for p in out.iterdir()}
    weights = "model.safetensors" if merged else "adapter_model.safetensors"
    assert {weights, "README.md", "tokenizer.json", "generation_config.json"} <= files
    card = (out / "README.md").read_text()
    assert "# tiny_chat" in card and "| loss |" in card and "sha256" in card
    # The adapter names its base relative to the export folder: run the scorer from there.
    scored = _score(out, None if merged else Path(json.loads((out / "adapter_config.json").read_text())[
        "base_model_name_or_path"]), _eval_examples(plan, result.run_dir), cwd=out)  # fmt: skip
    assert scored["loss"] == pytest.approx(result.metrics["eval_loss"], abs=1e-5)
    if not merged:
        assert not Path(scored["base"]).is_absolute()


def test_export_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert ft_main(["export", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "is not a finished run" in capsys.readouterr().err
