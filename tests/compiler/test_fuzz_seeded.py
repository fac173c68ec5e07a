"""The seeded fuzzer (tests/fuzzing.py) for 500 cases: no internal error, no hang, every diagnostic
located and quoting the file's own line. `bench/fuzz.py --cases 10000` runs the same for longer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzing import fuzz, make_case, run_case, write_case

CASES = 500


def test_fuzzed_recipes_are_clean(tmp_path: Path) -> None:
    totals = fuzz(range(CASES), tmp_path / "case", big_files=False)
    shown = {kind: examples[:3] for kind, examples in totals.examples.items()}
    assert totals.line().endswith("internal_errors=0 hangs=0 unlocated=0 bad_snippets=0"), shown


@pytest.mark.parametrize(
    "content",
    [
        b'model base = local("m")\n',  # with a config.json that is a list
        b'recipe r "x"\ntrain {\n  lr = ' + b"[" * 100_000 + b"\n}\n",
        b'recipe r "x"\ntrain {\n  lr = ' + b"1 + " * 5_000 + b"1\n}\n",
        b'recipe r "caf\xe9"\n',
        b'recipe r "x"\n\x0b\x0c\xc2\x85\xe2\x80\xa8model m = nope\n',
    ],
)
def test_signatures_found_by_fuzzing(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("[]")
    recipe = tmp_path / "r.ft"
    recipe.write_bytes(content)
    outcome = run_case(recipe)
    assert not (outcome.internal_errors or outcome.hangs or outcome.unlocated or outcome.bad_snippets), outcome


def test_the_cases_are_reproducible(tmp_path: Path) -> None:
    assert make_case(7) == make_case(7)
    assert (
        write_case(make_case(7), tmp_path / "a").read_bytes() == write_case(make_case(7), tmp_path / "b").read_bytes()
    )
