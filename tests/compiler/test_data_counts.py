"""`ft plan` shows the rows per stage a past run counted, for the same declaration and data only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftlang.compiler.api import check_path
from ftlang.compiler.summary import summarize
from ftlang.plan.datacache import counts_path
from tests.conftest import RECIPES

STATS = {"read": 610, "after_where": 604, "kept": 596, "split_eval": 133, "split_train": 463}


def test_plan_shows_the_counts_of_the_last_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FTLANG_CACHE", str(tmp_path))
    plan = check_path(str(RECIPES / "quickstart.ft")).plan
    assert plan is not None
    assert "counted by the last run" not in summarize(plan)
    path = counts_path(plan.data[0].model_dump(mode="json", exclude={"fields"}))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"stats": STATS, "tokens": {"train": 16642}, "max_len": 64}), encoding="utf-8")
    line = "read 610 → where 604 → kept 596 → eval 133 · train 463; tokens 16,642 in train (max_len 64)"
    assert line in summarize(plan)
    # Other data content is another declaration: its counts are not these.
    other = plan.data[0].model_copy(update={"source": plan.data[0].source.model_copy(update={"sha256": "0" * 64})})
    assert counts_path(other.model_dump(mode="json", exclude={"fields"})) != path
