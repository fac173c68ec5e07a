"""`ft run --resume` of a run whose eval has a guard: the lock lists the guard's file, and the
resume compares the same list (it used to say the data changed when nothing had)."""

from __future__ import annotations

import json
from pathlib import Path

from ftlang.plan.models import FileData, Guard
from ftlang.runtime import run_plan
from ftlang.runtime.errors import RunError
from tests.runtime.factories import arithmetic, chat_plan


def test_resume_with_a_guard_sees_unchanged_data(tmp_path: Path) -> None:
    (tmp_path / "general.jsonl").write_text("".join(json.dumps(r) + "\n" for r in arithmetic(8, seed=1)))
    plan = chat_plan(
        tmp_path, split={"train": 0.75, "eval": 0.25}, eval_on="eval", train={"epochs": 1, "checkpoint_every": 2}
    )
    guard = Guard(name="general", source=FileData(kind="jsonl", path="general.jsonl"), max_drop=1.0)
    assert plan.eval is not None
    plan = plan.model_copy(update={"eval": plan.eval.model_copy(update={"guards": [guard]})})
    run_dir = tmp_path / "run"
    run_plan(plan, run_dir, quiet=True, stop_after=2)
    try:
        run_plan(plan, resume=run_dir, quiet=True)
    except RunError as exc:  # whatever a resume of a cut-short run says, it is not that the data changed
        assert "data changed" not in exc.message, exc.message
