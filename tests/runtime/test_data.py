"""Data stage: every format, where filters, dedupe, stable splits, malformed rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ftlang.plan.models import DataPlan, DataRef, FileData, InlineData, SplitPlan
from ftlang.runtime.data.filters import ExprError, evaluate
from ftlang.runtime.data.sources import assign_part, load_data, select
from ftlang.runtime.errors import RunError

ROWS = [{"body": f"ticket number {i}", "team": ["billing", "account"][i % 2], "n": i} for i in range(20)]


def write_jsonl(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def plan_for(kind: str, path: str, **kw) -> DataPlan:
    return DataPlan(name="d", source=FileData(kind=kind, path=path), **kw)


def bodies(rows) -> list[str]:
    return [r.values["body"] for r in rows]


def test_jsonl_relative_to_root(tmp_path: Path):
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "t.jsonl", ROWS)
    loaded = load_data(plan_for("jsonl", "data/t.jsonl"), tmp_path)
    rows = loaded.rows(None)
    assert bodies(rows) == [r["body"] for r in ROWS]
    assert rows[3].origin == "data/t.jsonl:4"
    assert loaded.files[0]["path"] == "data/t.jsonl" and len(loaded.files[0]["sha256"]) == 64


def test_csv_keeps_line_numbers_across_multiline_fields(tmp_path: Path):
    with open(tmp_path / "t.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["body", "team"])
        w.writeheader()
        w.writerow({"body": "one\nline two", "team": "a"})
        w.writerow({"body": "three", "team": "b"})
    rows = load_data(plan_for("csv", "t.csv"), tmp_path).rows(None)
    assert [r.values for r in rows] == [{"body": "one\nline two", "team": "a"}, {"body": "three", "team": "b"}]
    assert [r.origin for r in rows] == ["t.csv:2", "t.csv:4"]


def test_csv_wrong_column_count_is_located(tmp_path: Path):
    (tmp_path / "t.csv").write_text("body,team\nok,a\nbroken\n")
    with pytest.raises(RunError) as e:
        load_data(plan_for("csv", "t.csv"), tmp_path)
    assert e.value.location == "t.csv:3"
    assert "columns" in e.value.message


def test_parquet(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "t.parquet")
    rows = load_data(plan_for("parquet", "t.parquet"), tmp_path).rows(None)
    assert [r.values for r in rows] == ROWS
    assert rows[0].origin == "t.parquet row 1"


def test_datasets_folder(tmp_path: Path):
    import datasets

    from ftlang.plan.hashing import sha256_path

    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    loaded = load_data(plan_for("datasets", "ds"), tmp_path)
    assert [r.values for r in loaded.rows(None)] == ROWS
    # the lock's hash is the compiler's pin, so a folder pinned at check time verifies
    pin = sha256_path(tmp_path / "ds")
    assert loaded.files[0]["sha256"] == pin
    pinned = DataPlan(name="d", source=FileData(kind="datasets", path="ds", sha256=pin))
    assert len(load_data(pinned, tmp_path).rows(None)) == len(ROWS)


def test_inline_rows_and_whole_data_ref():
    dp = DataPlan(name="d", source=InlineData(rows=ROWS), split=SplitPlan(parts={"train": 0.5, "eval": 0.5}, seed=1))
    loaded = {"d": load_data(dp, Path("."))}
    whole = select(loaded, DataRef(data="d"))
    assert bodies(whole) == [r["body"] for r in ROWS]  # the whole data, in read order
    parts = select(loaded, DataRef(data="d", split="train")) + select(loaded, DataRef(data="d", split="eval"))
    assert sorted(bodies(parts)) == sorted(bodies(whole))
    assert whole[2].origin == "d.rows[2]"
    with pytest.raises(RunError, match="no split `test`"):
        select(loaded, DataRef(data="d", split="test"))


def test_where_filters_and_dedupe():
    rows = ROWS + [dict(ROWS[0], n=99)]  # a later twin of row 0 by body
    dp = DataPlan(
        name="d",
        source=InlineData(rows=rows),
        dedupe=["body"],
        where=[
            # "ticket number 9" has 15 characters, "ticket number 10" has 16
            {"op": "<", "args": [{"call": "len", "args": [{"field": "body"}]}, {"lit": 16}]},
            {"op": "in", "args": [{"call": "lower", "args": [{"field": "team"}]}, {"lit": ["billing"]}]},
        ],
    )
    loaded = load_data(dp, Path("."))
    assert [r.values["n"] for r in loaded.rows(None)] == [0, 2, 4, 6, 8]
    assert loaded.stats["duplicates"] == 1
    assert loaded.stats["filtered_out"] == 15


def test_dedupe_keeps_first_occurrence():
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": "y"}, {"a": 4, "b": "x"}]
    loaded = load_data(DataPlan(name="d", source=InlineData(rows=rows), dedupe=["b"]), Path("."))
    assert [r.values["a"] for r in loaded.rows(None)] == [1, 3]
    assert loaded.stats["duplicates"] == 2


def test_expression_evaluator():
    row = {"x": 4, "s": " Hi ", "flag": True}
    ev = lambda tree: evaluate(tree, row)  # noqa: E731
    f, lit = (lambda n: {"field": n}), (lambda v: {"lit": v})
    assert ev({"op": "+", "args": [f("x"), lit(2)]}) == 6
    assert ev({"op": "/", "args": [f("x"), lit(8)]}) == 0.5
    assert ev({"call": "strip", "args": [f("s")]}) == "Hi"
    assert ev({"call": "upper", "args": [f("s")]}) == " HI "
    assert ev({"op": "not", "args": [f("flag")]}) is False
    assert ev({"op": "or", "args": [lit(False), {"op": ">=", "args": [f("x"), lit(4)]}]}) is True
    assert ev({"op": "in", "args": [lit("H"), f("s")]}) is True
    # and short-circuits: the missing field on the right is never read
    assert ev({"op": "and", "args": [lit(False), f("nope")]}) is False
    for bad in (
        {"op": "<", "args": [f("s"), lit(3)]},
        {"field": "nope"},
        {"call": "len", "args": [f("x")]},
        {"op": "/", "args": [f("x"), lit(0)]},
    ):
        with pytest.raises(ExprError):
            ev(bad)
    with pytest.raises(ValueError):  # a tree the compiler never builds is a bug, not a row error
        ev({"call": "__import__", "args": [lit("os")]})


def test_split_is_stable_when_rows_are_added():
    parts = {"train": 0.8, "eval": 0.1, "test": 0.1}
    small = [{"i": i} for i in range(300)]
    big = small + [{"i": i} for i in range(300, 900)]

    def dp(rows):
        return DataPlan(
            name="d",
            source=InlineData(rows=rows),
            split=SplitPlan(parts=parts, seed=7),
        )

    a, b = load_data(dp(small), Path(".")), load_data(dp(big), Path("."))
    for name in parts:
        old = {r.values["i"] for r in a.parts[name]}
        new = {r.values["i"] for r in b.parts[name] if r.values["i"] < 300}
        assert old == new
    assert 0.72 < len(b.parts["train"]) / 900 < 0.88  # fractions hold roughly
    assert assign_part({"i": 1}, parts, 7) == assign_part({"i": 1}, parts, 7)
    moved = sum(assign_part({"i": i}, parts, 7) != assign_part({"i": i}, parts, 8) for i in range(200))
    assert moved > 20  # the seed matters


def test_malformed_json_stops_with_file_and_line(tmp_path: Path):
    (tmp_path / "t.jsonl").write_text('{"body": "a", "team": "x"}\n\n{"body": "b", team}\n')
    with pytest.raises(RunError) as e:
        load_data(plan_for("jsonl", "t.jsonl"), tmp_path, required=["body"])
    assert e.value.location == "t.jsonl:3"
    assert "is not valid JSON" in e.value.message


@pytest.mark.parametrize(
    "line,reason",
    [
        (b'{"body": NaN, "team": "x"}', "`NaN`"),
        (b'{"body": "a", "body": "b", "team": "x"}', "the key `body` twice"),
        (b'{"body": "caf\xe9", "team": "x"}', "not UTF-8"),
        (b'{"body": ' + b"9" * 5000 + b', "team": "x"}', "a number too long"),
        (b'{"body": ' + b"[" * 5000 + b"]" * 5000 + b', "team": "x"}', "nested too deeply"),
    ],
)
def test_bad_rows_are_located_as_ft_check_locates_them(tmp_path: Path, line: bytes, reason: str) -> None:
    """`ft run` reads rows by the one definition `ft check` applies (ftlang.plan.rows): the fault is
    a bad row at its line, never silently accepted or an internal error."""
    (tmp_path / "t.jsonl").write_bytes(b'{"body": "a", "team": "x"}\n' + line + b"\n")
    with pytest.raises(RunError) as e:
        load_data(plan_for("jsonl", "t.jsonl"), tmp_path, required=["body"])
    assert e.value.location == "t.jsonl:2" and reason in e.value.message


def test_a_data_path_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "t.jsonl")
    with pytest.raises(RunError) as e:
        load_data(plan_for("jsonl", "t.jsonl"), tmp_path, required=["body"])
    assert "not a regular file" in e.value.message


def test_missing_prompt_field_is_malformed_and_skip_counts(tmp_path: Path):
    write_jsonl(tmp_path / "t.jsonl", [{"body": "a", "team": "x"}, {"body": "b"}, {"body": None, "team": "y"}, [1, 2]])
    with pytest.raises(RunError) as e:
        load_data(plan_for("jsonl", "t.jsonl"), tmp_path, required=["body", "team"])
    assert e.value.location == "t.jsonl:2" and "`team`" in e.value.message
    loaded = load_data(plan_for("jsonl", "t.jsonl", bad_rows="skip"), tmp_path, required=["body", "team"])
    assert bodies(loaded.rows(None)) == ["a"]
    assert loaded.stats["bad_rows_skipped"] == 3
    assert [s["location"] for s in loaded.skipped] == ["t.jsonl:2", "t.jsonl:3", "t.jsonl:4"]


def test_missing_file_and_changed_pin(tmp_path: Path):
    with pytest.raises(RunError, match="not found"):
        load_data(plan_for("jsonl", "nope.jsonl"), tmp_path)
    write_jsonl(tmp_path / "t.jsonl", ROWS)
    dp = DataPlan(name="d", source=FileData(kind="jsonl", path="t.jsonl", sha256="0" * 64))
    with pytest.raises(RunError, match="changed since"):
        load_data(dp, tmp_path)


def test_non_utf8_file_is_a_run_error(tmp_path: Path):
    (tmp_path / "t.jsonl").write_bytes(b'{"body": "caf\xe9"}\n')
    with pytest.raises(RunError, match="not UTF-8") as e:
        load_data(plan_for("jsonl", "t.jsonl"), tmp_path)
    assert e.value.location == "t.jsonl:1"  # at its line, not at an offset inside a decoder's chunk
