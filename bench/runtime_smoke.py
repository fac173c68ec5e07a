"""Runtime timings (not a test): the quickstart classifier, and scratch SFT with/without packing.

HF_HUB_OFFLINE=1 .venv/bin/python bench/runtime_smoke.py [quickstart|packing]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from ftlang.compiler.api import check_path
from ftlang.runtime import run_plan

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def compiled(name: str):
    result = check_path(RECIPES / name)
    assert result.ok and result.plan is not None, name
    return result.plan


def timed(plan, label: str) -> dict:
    out = Path(tempfile.mkdtemp()) / "run"
    start = time.perf_counter()
    result = run_plan(plan, out, quiet=True)
    m = dict(result.metrics, wall=round(time.perf_counter() - start, 1))
    keep = (
        "wall",
        "elapsed",
        "steps",
        "tokens",
        "tok_s",
        "padding",
        "sequences",
        "train_examples",
        "final_loss",
        "eval_loss",
        "eval_accuracy",
        "base_eval_accuracy",
    )
    print(label, json.dumps({k: m[k] for k in keep if k in m}), flush=True)
    return m


def quickstart() -> None:
    timed(compiled("quickstart.ft"), "quickstart")


def packing() -> None:
    """sft-tiny as written (hidden 64, LoRA, max_len 64), then a larger scratch llama
    (hidden 256, 4 layers, full fine-tune, max_len 256), each without and with packing."""
    from ftlang.plan.models import FullMethod

    tiny = compiled("sft-tiny.ft")
    source = tiny.model.source.model_copy(
        update={"hidden": 256, "layers": 4, "heads": 8, "vocab": 2048, "max_len": 256}
    )
    small = tiny.model_copy(update={"model": tiny.model.model_copy(update={"source": source}), "method": FullMethod()})
    for label, plan, max_len in (("sft-tiny", tiny, 64), ("sft-small", small, 256)):
        # Training throughput only: no eval passes or checkpoint writes inside the timing.
        train = plan.train.model_copy(
            update={"checkpoint_every": None, "eval_every": None, "epochs": 3, "max_len": max_len}
        )
        for pack in (False, True):
            timed(
                plan.model_copy(update={"eval": None, "train": train.model_copy(update={"pack": pack})}),
                f"{label} pack={pack}",
            )


if __name__ == "__main__":
    which = sys.argv[1:] or ["quickstart", "packing"]
    for name in which:
        {"quickstart": quickstart, "packing": packing}[name]()
