"""What a run prints passes through the one redaction: progress, final lines, warnings, logs and run
errors never show the value of a secret-named environment variable or of a secret `--set`."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from ftlang.plan.redact import SET_SECRETS, redacted_output, remember_set_value
from tests.conftest import REPO

SECRET = "sekret123"


def test_every_way_of_writing_passes_through_the_redaction(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    with redacted_output():
        print("reading", "data/" + SECRET[:4], end="")  # a secret written in pieces
        print(SECRET[4:] + ".jsonl")
        sys.stderr.write(f"partial {SECRET}")  # no line end: written at the flush
        handler = logging.StreamHandler()  # a logger set up during the run, as transformers' is
        logging.getLogger("ftlang.test").addHandler(handler)
        logging.getLogger("ftlang.test").warning("token seen: %s", SECRET)
        logging.getLogger("ftlang.test").removeHandler(handler)
        Console(stderr=True).print(f"[bold]step 3[/bold] {SECRET}")
    out, err = capsys.readouterr()
    assert SECRET not in out + err and out == "reading data/***.jsonl\n"
    assert err.count("***") == 3, err


def test_warnings_pass_through_the_redaction() -> None:
    """Python's warnings (pytest records those of a test in-process, so a fresh interpreter shows them)."""
    code = (
        "import warnings\nfrom ftlang.plan.redact import redacted_output\n"
        f"with redacted_output():\n    warnings.warn('the path {SECRET}/x is slow')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "MY_API_TOKEN": SECRET}
    )
    assert "the path ***/x is slow" in done.stderr and SECRET not in done.stderr, done.stderr


def test_a_secret_set_on_the_command_line_is_masked(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from ftlang.cli.common import parse_set_pairs

    monkeypatch.setenv(SET_SECRETS, "")  # restored after the test
    parse_set_pairs(["db_password=hunter2222", "epochs=3333333"])
    remember_set_value("lr", "0.000001")  # not a secret's name
    with redacted_output():
        print("hunter2222 epochs 3333333 lr 0.000001")
    assert capsys.readouterr().out == "*** epochs 3333333 lr 0.000001\n"
    assert os.environ[SET_SECRETS] == "hunter2222"


def test_ft_run_prints_no_secret(tmp_path: Path) -> None:
    """A run directory named with two secrets (one from the environment, one given by `--set`): the
    progress, the final line and the report's path all show the mask."""
    (tmp_path / "data").mkdir()
    shutil.copy(REPO / "recipes" / "data" / "instructions.jsonl", tmp_path / "data")
    recipe = (REPO / "recipes" / "sft-tiny.ft").read_text(encoding="utf-8")
    recipe = recipe.replace("epochs = 8", "epochs = 1") + '\nparam api_token: str = "none"\n'
    (tmp_path / "r.ft").write_text(recipe, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ftlang.cli.main", "run", "r.ft", "--set", "api_token=hunter2222"]
        + ["--out", str(tmp_path / f"{SECRET}-hunter2222")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "MY_API_TOKEN": SECRET},
    )
    assert done.returncode == 0, done.stderr
    assert "run directory: " in done.stdout and "***-***" in done.stdout
    for secret in (SECRET, "hunter2222"):
        assert secret not in done.stdout + done.stderr


def test_an_internal_error_is_redacted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from ftlang.cli import main as cli

    def fails(args: argparse.Namespace) -> int:
        raise RuntimeError(f"cannot open /data/{SECRET}")

    parser = argparse.ArgumentParser()
    parser.set_defaults(handler=fails)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    monkeypatch.delenv("FT_DEBUG", raising=False)
    assert cli.main([]) == 70
    err = capsys.readouterr().err
    assert SECRET not in err and "cannot open /data/***" in err
