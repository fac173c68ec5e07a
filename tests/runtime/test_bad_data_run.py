"""Every fault of the bad-data corpus, moved past the 100 rows `ft check` reads, stops `ft run`
before the model loads: exit 1, an error naming the file and line 150, no traceback, no run folder.

"Before the model loads" is observed, not assumed: `load_for_run` (the one place a run loads its
model and tokenizer) is replaced by a tripwire that records a call, and no run folder is made.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ftlang.runtime.run as run_module
from ftlang.cli.main import main
from ftlang.compiler.api import check_text
from ftlang.runtime.data.rows import load_rows
from tests.compiler.test_bad_data import CORPUS
from tests.compiler.test_bad_data import RECIPE as CLASSIFIER

LINE = 150  # past the 100 rows `ft check` reads
TEAMS = ("billing", "shipping", "technical", "account")
CHAT = """model base = scratch(llama, hidden = 32, layers = 1, heads = 2, vocab = 256, max_len = 64)
data chats = jsonl("{name}")
prompt agent {{ messages = messages }}
method full
train {{ epochs = 1 }}
"""
# The corpus's faults (each at line 50 there; line 30 in bad-utf8.jsonl), and what `ft run` says.
CORPUS_FAULTS = {
    "missing-field.jsonl": "has no field `body`",
    "null-field.jsonl": "has null in field `body`",
    "label-outside-labels.jsonl": "label `refunds` is not one of the prompt's labels",
    "object-in-text.jsonl": "holds an object in `body`",
    "list-in-text.jsonl": "holds a list in `body`",
    "number-in-text.jsonl": "holds the number `42` in `body`, where number-in-text.jsonl:1 holds text",
    "lone-surrogate.jsonl": "unpaired surrogate",
    "nan.jsonl": "`NaN`, which is not JSON",
    "infinity.jsonl": "`Infinity`, which is not JSON",
    "duplicate-keys.jsonl": "has the key `body` twice",
    "deep-nesting.jsonl": "nested too deeply",
    "huge-integer.jsonl": "a number too long to read",
    "invalid-json.jsonl": "is not valid JSON",
    "not-an-object.jsonl": "is not a JSON object",
    "bad-utf8.jsonl": "is not UTF-8 text",
    "nul-byte.csv": "holds a NUL byte",
    "bad-utf8.csv": "is not UTF-8 text",
    "extra-field.csv": "has more columns than the header names",
}
# Faults too big for a fixture file, built here.
BUILT_FAULTS = {
    "over-long-row.jsonl": "is longer than 1 MB",
    "over-long-field.csv": "is longer than 1 MB",
    "number-in-content.jsonl": "turn 2 of `messages` has no text under `content` (the number `42`)",
}
FAULTS = {**CORPUS_FAULTS, **BUILT_FAULTS}


def _ticket(i: int, csv: bool, team: str | None = None) -> bytes:
    team = team or TEAMS[i % len(TEAMS)]
    if csv:
        return f"ticket {i},the body of ticket {i},{team}\n".encode()
    return json.dumps({"subject": f"ticket {i}", "body": f"the body of ticket {i}", "team": team}).encode() + b"\n"


def _chat(i: int, answer: Any = None) -> bytes:
    turns = [{"role": "user", "content": f"echo {i}"}, {"role": "assistant", "content": answer or str(i)}]
    return json.dumps({"messages": turns}).encode() + b"\n"


def _corpus_line(name: str) -> bytes:
    """The corpus file's faulty line, as its bytes."""
    number = 30 if name == "bad-utf8.jsonl" else 50
    return (CORPUS / name).read_bytes().split(b"\n")[number - 1] + b"\n"


def _file(name: str, bad: bytes, row: Callable[[int], bytes], header: bytes = b"") -> bytes:
    """200 good rows with `bad` at line LINE (the header, if any, is line 1)."""
    lines = [header] if header else []
    lines += [row(i) for i in range(1, 201 - len(lines))]
    lines[LINE - 1] = bad
    return b"".join(lines)


def _data(name: str) -> bytes:
    csv = name.endswith(".csv")
    header = b"subject,body,team\n" if csv else b""
    if name in CORPUS_FAULTS:
        return _file(name, _corpus_line(name), lambda i: _ticket(i, csv), header)
    if name == "over-long-row.jsonl":
        bad = json.dumps({"subject": "s", "body": "a" * (2 << 20), "team": "billing"}).encode() + b"\n"
        return _file(name, bad, lambda i: _ticket(i, False))
    if name == "over-long-field.csv":
        return _file(name, b"s," + b"a" * (2 << 20) + b",billing\n", lambda i: _ticket(i, True), header)
    return _file(name, _chat(0, answer=42), _chat)  # number-in-content.jsonl


def _recipe(name: str, options: str = "") -> str:
    if name == "number-in-content.jsonl":
        return CHAT.format(name=name)
    return CLASSIFIER.format(kind=name.rsplit(".", 1)[1], name=name, options=options)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every faulty data file and a recipe over each, written once for the module's tests."""
    root = tmp_path_factory.mktemp("bad-data-run")
    for name in FAULTS:
        (root / name).write_bytes(_data(name))
        (root / f"{name}.ft").write_text(_recipe(name))
    (root / "one-class.jsonl").write_bytes(b"".join(_ticket(i, False, "billing") for i in range(1, 201)))
    (root / "one-class.jsonl.ft").write_text(_recipe("one-class.jsonl"))
    return root


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[object]:
    """A tripwire where the run loads its model: each call is recorded, and stops the run."""
    calls: list[object] = []

    def tripwire(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("the model loaded")

    monkeypatch.setattr(run_module, "load_for_run", tripwire)
    monkeypatch.setenv("FTLANG_CACHE", str(tmp_path / "cache"))
    return calls


def _ft(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_the_run_corpus_covers_every_fault_of_the_check_corpus() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".jsonl", ".csv")}
    # A header is always in the rows `ft check` reads, and one class is a fact of the whole file:
    # both have their own tests below.
    assert files - {"duplicate-header.csv", "one-class.jsonl"} == set(CORPUS_FAULTS)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_fault_past_the_rows_ft_check_reads_stops_ft_run_before_the_model_loads(
    world: Path, loads: list[object], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    recipe, out = world / f"{name}.ft", world / "runs" / name
    code, err = _ft(capsys, "check", str(recipe))
    assert code == 0, err  # the fault is past the rows `ft check` reads
    code, err = _ft(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    assert code == 1, err
    assert f"error: {name}:{LINE}: " in err and FAULTS[name] in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert not loads and not out.exists()


def test_the_tripwire_is_reached_by_good_data(
    world: Path, loads: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    """The control of the tests above: the same rows without their fault reach the model's load."""
    (world / "good.jsonl").write_bytes(b"".join(_ticket(i, False) for i in range(1, 201)))
    (world / "good.ft").write_text(_recipe("good.jsonl"))
    _ft(capsys, "run", str(world / "good.ft"), "--out", str(world / "runs" / "good"), "--quiet")
    assert len(loads) == 1


def test_one_class_in_a_whole_file_stops_ft_run_before_the_model_loads(
    world: Path, loads: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    recipe, out = world / "one-class.jsonl.ft", world / "runs" / "one-class"
    assert _ft(capsys, "check", str(recipe))[0] == 0  # 200 rows: more than `ft check` reads whole
    code, err = _ft(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    assert code == 1, err
    assert "data `tickets`: the training rows hold only the label `billing`" in err, err
    assert not loads and not out.exists()


def test_a_header_fault_stops_ft_check_and_so_ft_run(
    tmp_path: Path, loads: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.csv").write_bytes((CORPUS / "duplicate-header.csv").read_bytes())
    (tmp_path / "r.ft").write_text(CLASSIFIER.format(kind="csv", name="d.csv", options=""))
    code, err = _ft(capsys, "run", str(tmp_path / "r.ft"), "--out", str(tmp_path / "run"), "--quiet")
    assert code == 1 and "error[E0308]" in err and "names the column `body` twice" in err, err
    assert not loads


def test_with_bad_rows_skip_every_row_fault_is_skipped_and_counted(
    world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The declared policy: each faulty row is dropped and counted, with its line, for the report."""
    monkeypatch.setenv("FTLANG_CACHE", str(tmp_path / "cache"))
    names = sorted(n for n in CORPUS_FAULTS if n.endswith(".jsonl"))
    good = [_ticket(i, False) for i in range(1, 201)]
    (world / "all-faults.jsonl").write_bytes(b"".join(good + [_corpus_line(n) for n in names]))
    result = check_text(_recipe("all-faults.jsonl", " { bad_rows = skip }"), str(world / "skip.ft"))
    assert result.ok and result.plan is not None, [d.message for d in result.diagnostics]
    rows = load_rows(result.plan, quiet=True)
    assert rows.bad_rows_skipped() == len(names)
    skipped = [s["location"] for s in [*rows.loaded["tickets"].skipped, *rows.skipped]]
    assert sorted(skipped) == sorted(f"all-faults.jsonl:{len(good) + 1 + i}" for i in range(len(names)))
    # The row with a label outside `labels` is counted here and dropped as the rows are tokenized.
    assert len(rows.train) == len(good) + 1


def test_a_guard_is_read_by_the_same_rules(
    world: Path, loads: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    """A guard's rows (`eval { guard … }`) are rendered through the prompt too: a number among its
    text stops the run at its line, before the model loads."""
    rows = [json.loads(_ticket(i, False)) for i in range(1, 4)]
    rows[1]["body"] = 42
    (world / "guard.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (world / "split.jsonl").write_bytes(b"".join(_ticket(i, False) for i in range(1, 41)))
    recipe = CLASSIFIER.format(kind="jsonl", name="split.jsonl", options=" { split { train = 80%, eval = 20% } }")
    recipe += 'eval {\n  on tickets.eval\n  metrics [accuracy]\n  guard jsonl("guard.jsonl") max_drop 2%\n}\n'
    (world / "guard.ft").write_text(recipe)
    code, err = _ft(capsys, "run", str(world / "guard.ft"), "--out", str(world / "runs" / "guard"), "--quiet")
    assert code == 1 and "error: guard.jsonl:2: the row holds the number `42` in `body`" in err, err
    assert not loads
