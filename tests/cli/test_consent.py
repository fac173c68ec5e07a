"""Consent and confinement (issue 15): arguments never become options, plans are pinned by their hash,
remote code needs a checked recipe or an explicit flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def ft(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_a_revision_is_never_an_option_of_git(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "r.ft").write_text("# empty\n")
    _git(tmp_path, "add", "r.ft")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "r")
    done = ft("diff", "--", "--output=X.tar:r.ft", "r.ft", cwd=tmp_path)
    assert not (tmp_path / "X.tar").exists()
    assert done.returncode == 2 and "not a git revision" in done.stderr, done.stderr
    done = ft("diff", "no-such-rev:r.ft", "r.ft", cwd=tmp_path)
    assert done.returncode == 2 and "no commit" in done.stderr, done.stderr


def _plan_file(tmp_path: Path, edit: dict[str, object] | None = None, rehash: bool = False) -> Path:
    """recipes/quickstart.ft's plan.json, with `edit` applied to its model block (and its hash redone)."""
    import json

    from ftlang.plan.canonical import plan_json
    from ftlang.plan.models import Plan

    done = ft("plan", str(REPO / "recipes" / "quickstart.ft"), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    data["model"].update(edit or {})
    if rehash:
        data.pop("plan_hash")
        data = json.loads(plan_json(Plan.model_validate(data)))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_edited_plan_is_refused_with_both_hashes(tmp_path: Path) -> None:
    plan = _plan_file(tmp_path, {"dtype": "float16"})
    done = ft("run", str(plan), "--out", str(tmp_path / "run"))
    assert done.returncode == 1, done.stderr
    assert "the plan was edited: it claims plan_hash" in done.stderr and "hashes to" in done.stderr
    assert not (tmp_path / "run").exists()
    (tmp_path / "summary.json").write_text("{}")  # a run directory holding the edited plan
    out = str(tmp_path / "out")
    for args in (
        ["run", "--resume", str(tmp_path)],
        ["eval", str(tmp_path)],
        ["reproduce", str(tmp_path)],
        ["report", str(tmp_path)],
        ["compare", str(tmp_path)],
        ["export", str(tmp_path), out],
    ):
        done = ft(*args)
        assert done.returncode == 1 and "the plan was edited" in done.stderr, (args, done.stderr)


def test_remote_code_needs_a_checked_recipe_or_the_flag(tmp_path: Path) -> None:
    _plan_file(tmp_path, {"trust_remote_code": True}, rehash=True)  # pinned, yet no consent
    (tmp_path / "summary.json").write_text("{}")
    for args in (
        ["run", str(tmp_path / "plan.json")],
        ["run", "--resume", str(tmp_path)],
        ["eval", str(tmp_path)],
        ["export", str(tmp_path), str(tmp_path / "out"), "--merged"],
    ):
        done = ft(*args)
        assert done.returncode == 1 and "--trust-remote-code" in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_the_flag_shows_w0001(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from ftlang.cli.consent import read_plan

    path = _plan_file(tmp_path, {"trust_remote_code": True}, rehash=True)
    assert read_plan(path, trust_remote_code=False) is None
    plan = read_plan(path, trust_remote_code=True)
    assert plan is not None and plan.model.trust_remote_code
    assert "warning[W0001]" in capsys.readouterr().err


def test_allow_path_lets_a_recipe_read_outside_its_repository(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "d.csv").write_text("a\n1\n")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "r.ft").write_text('data d = csv("../elsewhere/d.csv")\n')
    refused = ft("check", "r.ft", cwd=tmp_path / "repo")
    allowed = ft("check", "--allow-path", "../elsewhere", "r.ft", cwd=tmp_path / "repo")
    assert "E0620" in refused.stderr and "E0620" not in allowed.stderr, allowed.stderr


def test_run_errors_pass_through_the_redaction(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from ftlang.cli.common import print_run_error
    from ftlang.runtime.errors import RunError

    monkeypatch.setenv("OPENAI_KEY", "value-of-a-key-123")
    print_run_error(RunError("line 3 of env.txt: OPENAI_KEY=value-of-a-key-123 is not JSON"))
    err = capsys.readouterr().err
    assert "value-of-a-key-123" not in err and "***" in err


def test_a_plan_from_an_earlier_ftlang_still_matches_its_own_hash(tmp_path: Path) -> None:
    """A field added to the Plan since (here compute.tf32 dropped from the file) is no edit."""
    import hashlib
    import json

    from ftlang.plan.canonical import PlanHashMismatch, canonical_json, load_plan

    data = json.loads(_plan_file(tmp_path).read_text())
    data.pop("plan_hash")
    del data["compute"]["tf32"]
    unhashed = {k: v for k, v in data.items() if k != "root"}
    data["plan_hash"] = hashlib.sha256(canonical_json(unhashed).encode()).hexdigest()
    assert load_plan(json.dumps(data)).compute.tf32 is not None
    data["train"]["lr"] = 1.0
    with pytest.raises(PlanHashMismatch):
        load_plan(json.dumps(data))
