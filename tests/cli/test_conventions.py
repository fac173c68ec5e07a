"""The habits `ft` shares with ruff, cargo and terraform: --version, --format, folders, pipes, help, CI."""

import argparse
import json
import subprocess
import sys

from ftlang import __version__
from ftlang.cli.main import build_parser
from tests.cli.test_cli import BROKEN, ft
from tests.conftest import RECIPES, REPO


def test_version():
    result = ft("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"ft (ftlang) {__version__}"


def test_json_is_an_alias_of_format_json_on_every_command_that_has_it():
    subcommands = _subcommands()
    with_json = [name for name, parser in subcommands.items() if "--json" in parser._option_string_actions]
    assert {"check", "plan", "eval"} <= set(with_json)
    for name in with_json:
        assert "json" in _option(subcommands[name], "--format").choices, name
    plan = ft("plan", str(RECIPES / "sft-tiny.ft"), "--format", "json").stdout
    assert plan == ft("plan", str(RECIPES / "sft-tiny.ft"), "--json").stdout
    assert json.loads(plan)["recipe"]


def test_check_takes_a_folder_and_checks_every_recipe_below_it():
    result = ft("check", str(RECIPES))
    recipes = sorted(RECIPES.rglob("*.ft"))
    assert result.returncode == 0, result.stderr
    assert len(recipes) > len(list(RECIPES.glob("*.ft")))  # lib/ is below it
    assert [line.removesuffix(": ok") for line in result.stderr.splitlines()] == [str(p) for p in recipes]


def test_a_closed_pipe_ends_quietly_with_the_usual_status(tmp_path):
    # `true` exits before ft starts writing, so every write meets a closed pipe.
    broken = tmp_path / "broken.ft"
    broken.write_text(BROKEN)
    ft_ = f"{sys.executable} -m ftlang.cli.main"
    for command, status in [
        (f"{ft_} schema | true", 0),
        (f"{ft_} check --format json {RECIPES}/*.ft | true", 0),
        (f"{ft_} check {RECIPES} 2>&1 | true", 0),
        (f"{ft_} check {broken} 2>&1 | true", 1),
    ]:
        result = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command}; echo status=${{PIPESTATUS[0]}} >&2"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert f"status={status}" in result.stderr, (command, result.stderr)
        assert "Error" not in result.stderr and "internal error" not in result.stderr, result.stderr


def test_github_format_annotates_each_diagnostic(tmp_path):
    broken = RECIPES / "_broken_github_test.ft"
    broken.write_text(BROKEN)
    try:
        result = ft("check", "--format", "github", str(broken))
    finally:
        broken.unlink()
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"::error file={broken},line=4,col=13,endLine=4,endColumn=24,title=E0301 error::")
    assert lines[1].startswith(f"::error file={broken},line=9,col=3,") and "did you mean `lr`?" in lines[1]
    assert "%0A" in lines[1]  # notes and help stay inside the one annotation


def test_every_command_describes_each_argument_and_shows_an_example():
    for name, parser in _subcommands().items():
        text = parser.format_help()
        assert "examples:\n  ft " in text, name
        description = (parser.description or "").splitlines()
        assert all(len(line) <= 79 for line in description), f"ft {name}: its description is not wrapped"
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, f"ft {name}: {action.dest} has no help"


def test_usage_mistakes_and_help_exit_like_argparse():
    assert ft("check", "--format", "yaml", str(RECIPES / "quickstart.ft")).returncode == 2
    assert ft("check", "--help").returncode == 0


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return parser._option_string_actions[flag]


def test_bash_completion_completes_commands_options_and_choices(tmp_path):
    script = tmp_path / "ft.bash"
    result = ft("completion", "bash")
    assert result.returncode == 0, result.stderr
    script.write_text(result.stdout)

    def complete(*words: str) -> list[str]:
        """What bash offers for the last of `words` (an empty one: a new word)."""
        line = " ".join(f"'{w}'" for w in words)
        probe = f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _shtab_ft; echo ${{COMPREPLY[@]}}"
        return subprocess.run(["bash", "-c", probe], capture_output=True, text=True).stdout.split()

    assert complete("ft", "ch") == ["check"]
    assert complete("ft", "check", "--fo") == ["--format"]
    assert complete("ft", "check", "--format", "") == ["text", "json", "github"]
