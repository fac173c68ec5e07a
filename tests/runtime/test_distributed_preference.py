"""Preference methods on two processes (DDP on gloo) log what one process logs, step by step.

Each case runs three steps of a tiny scratch model in this process, then the same recipe through
`ft run --nproc 2`, and compares every training and evaluation record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftlang.compiler.api import check_path
from ftlang.runtime import run_plan

from ..conftest import RECIPES
from .test_distributed import ft, records

PAIR_PROMPT = """prompt pair {
  input "Question: {{ prompt }}\\nAnswer:"
  chosen "{{ chosen }}"
  rejected "{{ rejected }}"
}"""
UNPAIRED_PROMPT = """prompt rated {
  input "Question: {{ prompt }}\\nAnswer:"
  completion "{{ completion }}"
  desirable "{{ good }}"
}"""
ADAPTER = "adapter = lora(rank = 4, alpha = 8, also_train = [lm_head])"

# name: (data file, prompt, method block, eval metrics)
CASES = {
    "dpo-hinge-precomputed": ("prefs", PAIR_PROMPT, f"method dpo {{\n  loss = hinge\n  reference = precomputed\n"
                              f"  {ADAPTER}\n}}", "preference_accuracy, reward_margin"),
    "dpo-ipo-full": ("prefs", PAIR_PROMPT, "method dpo { loss = ipo }", "preference_accuracy, reward_margin"),
    "kto": ("feedback", UNPAIRED_PROMPT, f"method kto {{\n  {ADAPTER}\n}}", "reward_margin, kl_estimate"),
    "orpo": ("prefs", PAIR_PROMPT, f"method orpo {{\n  lambda = 0.5\n  {ADAPTER}\n}}",
             "preference_accuracy, reward_margin"),
    "simpo": ("prefs", PAIR_PROMPT, f"method simpo {{\n  {ADAPTER}\n}}", "preference_accuracy, reward_margin"),
    "reward": ("prefs", PAIR_PROMPT, "method reward {\n  adapter = lora(rank = 4, alpha = 8)\n}",
               "preference_accuracy, reward_margin"),
}  # fmt: skip


def _recipe(folder: Path, name: str) -> Path:
    data, prompt, method, metrics = CASES[name]
    rows = (RECIPES / "data" / f"{data}.jsonl").read_text(encoding="utf-8").splitlines()[:64]
    (folder / f"{data}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / "recipe.ft"
    path.write_text(
        f"""recipe dist_{name.replace("-", "_")} "a preference method on two processes"

model base = scratch(llama, hidden = 32, layers = 2, heads = 4, vocab = 256, max_len = 96)

data rows = jsonl("{data}.jsonl") {{
  split {{ train = 75%, eval = 25% }} seed 5
}}

{prompt}

{method}

train {{
  max_steps = 3
  lr = 2e-3
  batch = 8
  max_len = 80
  seed = 7
}}

eval {{
  on rows.eval
  metrics [loss, {metrics}]
}}
""",
        encoding="utf-8",
    )
    return path


def _values(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items()} for r in records(run_dir)]


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_log_what_one_logs(tmp_path, name):
    recipe = _recipe(tmp_path, name)
    plan = check_path(str(recipe)).plan
    assert plan is not None
    run_plan(plan, tmp_path / "one", quiet=True)
    ft("run", str(recipe), "--out", str(tmp_path / "two"), "--nproc", "2", "--quiet", timeout=240)
    one, two = _values(tmp_path / "one"), _values(tmp_path / "two")
    assert [sorted(r) for r in one] == [sorted(r) for r in two]
    for a, b in zip(one, two):
        for key, value in a.items():
            assert b[key] == pytest.approx(value, rel=1e-5, abs=1e-5), (key, a["step"])
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["steps"] == 3
