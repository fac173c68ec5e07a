"""GPU throughput of our runtime: MFU of full fine-tuning (bf16, packed) and LoRA tokens/s, ~0.5 B scratch llama.

    python3 bench/gpu_throughput.py --out DIR          # on a CUDA machine (bench/gpu.sh calls this)
    python3 bench/gpu_throughput.py --out DIR --tiny   # the same path on CPU with a tiny model

Each run compiles a .ft recipe and calls run_plan, as `ft run` does: scratch llama (hidden
1536, 12 layers, 12 heads of 128, intermediate 6144, vocab 32,000: ~0.55 B parameters), packed
rows of 2,048 tokens (block-diagonal attention), batch 8, under bf16 autocast: full fine-tuning
with fp32 weights (mixed precision), again with bf16 weights, and LoRA r 16 on every projection;
then a short extra run profiles 3 steps (gpu_profile.md). Throughput counts the steps after the
first logged window. MFU = model FLOP/s over the card's
dense bf16 peak, model FLOPs = 6 x (parameters in matrix products) per token; the second MFU
figure adds causal attention over the whole 2,048-token row (the PaLM convention, an upper
bound with packing, whose documents are shorter).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import long_tailed, run_rate, text_writer, write_jsonl

REPO = Path(__file__).resolve().parents[1]
# Dense bf16 tensor-core peaks from the datasheets (no sparsity), in TFLOP/s.
PEAK_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),
    ("H200", 989.4),
    ("GH200", 989.4),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("A10G", 125.0),
)
SIZES = {
    "gpu": {
        "model": {"hidden": 1536, "layers": 12, "heads": 12, "intermediate": 6144, "vocab": 32000, "max_len": 2048},
        "batch": 8,
        "steps": 50,
        "log_every": 10,
        "docs": 2500,
        "median_words": 250,
        "lexicon": 60_000,
    },
    "tiny": {
        "model": {"hidden": 64, "layers": 2, "heads": 4, "intermediate": 256, "vocab": 512, "max_len": 128},
        "batch": 4,
        "steps": 6,
        "log_every": 2,
        "docs": 200,
        "median_words": 20,
        "lexicon": 2_000,
    },
}
LORA = "method lora {\n  rank = 16\n  alpha = 32\n  targets = [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]\n}\n"


# run name -> (method, weight dtype, compute fields): fp32 master weights under bf16 autocast is
# mixed precision; bf16 weights (what `dtype = auto` gives on a GPU) drop the fp32 copy; packed
# rows take the attention `auto` picks (flash-attention when installed, else FlexAttention's
# document mask); the last full run compiles each decoder layer.
RUNS = {
    "full": ("full", "float32", ""),
    "full-bf16": ("full", "auto", ""),
    "full-bf16-compiled": ("full", "auto", "compile = true"),
    "lora": ("lora", "auto", ""),
}


def recipe(size: dict[str, Any], run: str) -> str:
    method, dtype, compute = RUNS[run]
    m = size["model"]
    model = ", ".join(f"{k} = {v}" for k, v in m.items())
    body = LORA if method == "lora" else "method full {}\n"
    return (
        f'recipe gpu_{run.replace("-", "_")} "GPU throughput: {run} fine-tuning, packed"\n\n'
        f"model base = scratch(llama, {model}) {{\n  dtype = {dtype}\n}}\n\n"
        'data docs = jsonl("docs.jsonl")\n\n'
        'prompt doc {\n  input "{{ title }}"\n  target "{{ text }}"\n}\n\n'
        f"{body}\n"
        f"train {{\n  max_steps = {size['steps']}\n  lr = 0.0001\n  batch = {size['batch']}\n"
        f"  max_len = {m['max_len']}\n  pack = true\n  seed = 1234\n  log_every = {size['log_every']}\n}}\n"
        + (f"\ncompute {{ {compute} }}\n" if compute else "")
    )


def peak_tflops(name: str) -> float | None:
    return next((tf for key, tf in PEAK_TFLOPS if key in name), None)


def run_one(work: Path, size: dict[str, Any], run: str, label: str = "") -> dict[str, Any]:
    import torch

    from ftlang.compiler.api import check_text
    from ftlang.runtime import run_plan

    label = label or run
    path = work / f"{label}.ft"
    path.write_text(recipe(size, run))
    result = check_text(path.read_text(), str(path))
    if not result.ok or result.plan is None:
        sys.exit(f"the {run} recipe does not check: {[d.message for d in result.diagnostics]}")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    done = run_plan(result.plan, work / f"run-{label}", quiet=True)
    wall = time.perf_counter() - start
    lock = json.loads((done.run_dir / "lock.json").read_text())
    model = lock["model"]
    config = json.loads((done.run_dir / "base" / "config.json").read_text())  # the tokenizer sets the vocab
    embedding = config["vocab_size"] * config["hidden_size"]  # a lookup, not a matrix product
    return {
        "run": run,
        "method": RUNS[run][0],
        "weights": lock["levers"]["dtype"],
        "attention": lock["levers"]["attention"],
        "compiled": lock["levers"]["compile"],
        "tok_s": run_rate(done.run_dir, size["log_every"]),
        "train_s": done.metrics["elapsed"],
        "wall_s": round(wall, 1),
        "steps": done.steps,
        "parameters": model["parameters"],
        "matmul_parameters": model["parameters"] - embedding,
        "vocab": config["vocab_size"],
        "trainable": lock["method"]["trainable"],
        "padding": done.metrics["padding"],
        "final_loss": done.final_loss,
        "device": lock["device"].get("name"),
        "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1) if torch.cuda.is_available() else None,
    }


def profile_steps(work: Path, size: dict[str, Any], run: str, out: Path) -> None:
    """A short extra run of `run` under torch.profiler for 3 steps after 10: where a step's time goes.

    Kept apart from the timed runs, whose throughput the profiler would slow. Writes
    gpu_profile.md: the ops by their own GPU time (CPU time without a GPU).
    """
    import torch
    import torch.optim.optimizer as optim
    from torch.profiler import ProfilerActivity, profile, schedule

    gpu = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    with profile(activities=activities, schedule=schedule(wait=8, warmup=2, active=3)) as prof:
        # Every optimizer step is a training step: the profiler's schedule advances with it.
        handle = optim.register_optimizer_step_post_hook(lambda *_: prof.step())
        try:
            run_one(work, {**size, "steps": 14}, run, label=f"profile-{run}")
        finally:
            handle.remove()
    key = "self_device_time_total" if gpu else "self_cpu_time_total"
    table = prof.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=60)
    (out / "gpu_profile.md").write_text(f"torch.profiler, {run}, steps 11-13, sorted by {key}\n\n```\n{table}\n```\n")


def with_mfu(r: dict[str, Any], size: dict[str, Any]) -> dict[str, Any]:
    m = size["model"]
    peak = peak_tflops(r["device"] or "")
    dense = 6 * r["matmul_parameters"]
    attention = 6 * m["layers"] * m["hidden"] * m["max_len"]  # causal over the whole row
    if r["method"] != "full" or peak is None:
        return {**r, "mfu": None, "mfu_with_attention": None, "peak_tflops": peak}
    return {
        **r,
        "peak_tflops": peak,
        "mfu": dense * r["tok_s"] / (peak * 1e12),
        "mfu_with_attention": (dense + attention) * r["tok_s"] / (peak * 1e12),
    }


def table(rows: list[dict[str, Any]]) -> str:
    pct = lambda x: "n/a" if x is None else f"{x:.1%}"  # noqa: E731
    lines = [
        "| run | weights | attention | params | trainable | tokens/s | MFU (6N) | MFU (+attn) | padding "
        "| peak GPU GB | train s | wall s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['run']} | failed: {r['error'][:120]} |")
            continue
        lines.append(
            f"| {r['run']} | {r['weights']} | {r['attention']} | {r['parameters'] / 1e6:,.2f} M | {r['trainable'] / 1e6:,.2f} M | "
            f"{r['tok_s']:,.0f} | {pct(r['mfu'])} | {pct(r['mfu_with_attention'])} | "
            f"{r['padding']:.1%} | {r['peak_gpu_gb']} | {r['train_s']:.1f} | {r['wall_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the JSON and Markdown results go")
    parser.add_argument("--tiny", action="store_true", help="a tiny model on CPU: checks the script, not the GPU")
    parser.add_argument("--runs", default=",".join(RUNS), help="a subset of " + ",".join(RUNS))
    parser.add_argument("--profile", default="full-bf16", help="the run to profile afterwards ('' for none)")
    args = parser.parse_args()
    import torch

    if not args.tiny and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --tiny for the CPU smoke test")
    size = SIZES["tiny" if args.tiny else "gpu"]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ft-gpu-") as folder:  # run dirs hold GB of weights
        work = Path(folder)
        write = text_writer(1234, size["lexicon"])
        rng = random.Random(1235)
        write_jsonl(
            work / "docs.jsonl",
            (
                {"title": f"Document {i}\n", "text": write(long_tailed(rng, size["median_words"], 1.0, 3000))}
                for i in range(size["docs"])
            ),
        )
        for run in args.runs.split(","):
            try:
                rows.append(with_mfu(run_one(work, size, run), size))
            except Exception as e:  # one lease, one try: a failed run (say, out of memory) must not lose the others
                rows.append({"run": run, "error": f"{type(e).__name__}: {e}"[:500]})
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            print(json.dumps(rows[-1]), flush=True)
        if args.profile:
            profile_steps(work, size, args.profile, args.out)
    env = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    text = f"{env}\n\n{table(rows)}\n"
    (args.out / "gpu_throughput.json").write_text(json.dumps({"env": env, "runs": rows}, indent=1))
    (args.out / "gpu_throughput.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
