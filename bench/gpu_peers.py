"""Same model, same documents, same device: our training loop against transformers' Trainer and TRL.

    python3 bench/gpu_peers.py --out DIR          # on a CUDA machine (bench/gpu.sh calls this)
    python3 bench/gpu_peers.py --out DIR --tiny   # the same path on CPU with a tiny model

A scratch llama (the ~0.55 B shape of gpu_throughput.py), random weights, bf16 on a GPU, full
fine-tuning on the same long-tailed documents of token ids, for the same number of steps:
- ours: runtime/train/loop.py with the levers `auto` resolves (bf16 weights and autocast,
  packed rows of 2,048 under a document mask built on the device: flash-attention's varlen path
  or FlexAttention), fed by the prefetching loader;
- Trainer: padding-free batches (DataCollatorWithFlattening: one row, reset position ids),
  bf16, the same attention kernel when it is flash-attention, else sdpa;
- TRL: SFTTrainer with padding_free = True and bf16.
Each gets about the same tokens a step (the peers take whole documents, so their step holds as
many documents as our packed rows hold on average). Tokens/s counts real tokens, after the
first steps. Writes gpu_peers.json and gpu_peers.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import time
from pathlib import Path
from typing import Any

SIZES = {
    "gpu": {
        "hidden": 1536,
        "layers": 12,
        "heads": 12,
        "intermediate": 6144,
        "vocab": 32000,
        "max_len": 2048,
        "rows": 8,
        "steps": 30,
        "warmup": 5,
        "docs": 4000,
        "median": 400,
    },
    "tiny": {
        "hidden": 64,
        "layers": 2,
        "heads": 4,
        "intermediate": 256,
        "vocab": 512,
        "max_len": 128,
        "rows": 4,
        "steps": 6,
        "warmup": 2,
        "docs": 300,
        "median": 25,
    },
}


def documents(size: dict[str, Any]) -> list[list[int]]:
    rng = random.Random(7)
    lengths = [
        max(8, min(size["max_len"], int(rng.lognormvariate(0.0, 0.8) * size["median"]))) for _ in range(size["docs"])
    ]
    return [[rng.randrange(3, size["vocab"]) for _ in range(n)] for n in lengths]


def model(size: dict[str, Any], attention: str, dtype: Any, device: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=size["vocab"],
        hidden_size=size["hidden"],
        num_hidden_layers=size["layers"],
        num_attention_heads=size["heads"],
        intermediate_size=size["intermediate"],
        max_position_embeddings=size["max_len"],
        tie_word_embeddings=False,
        attn_implementation=attention,
    )
    with torch.device(device):
        return LlamaForCausalLM(config).to(dtype)


def ours(size: dict[str, Any], docs: list[list[int]], device: Any) -> dict[str, Any]:

    from ftlang.plan.models import (
        ComputePlan,
        DataPlan,
        DataRef,
        FullMethod,
        InlineData,
        ModelPlan,
        Plan,
        PromptPlan,
        ScratchModel,
        TrainPlan,
    )
    from ftlang.runtime.data.batching import Collator, pack
    from ftlang.runtime.data.prompts import Example
    from ftlang.runtime.train import levers
    from ftlang.runtime.train.data_order import DataOrder
    from ftlang.runtime.train.loop import Hooks, LoopConfig, LoopState, train
    from ftlang.runtime.train.optimizers import make_optimizer
    from ftlang.runtime.train.schedule import make_scheduler

    plan = Plan(
        recipe="peers",
        root=".",
        model=ModelPlan(name="m", source=ScratchModel()),
        data=[DataPlan(name="d", source=InlineData(rows=[{"t": "x"}]))],
        prompt=PromptPlan(name="p", task="completion", input="{{ t }}", target="{{ t }}"),
        method=FullMethod(),
        train=TrainPlan(data=DataRef(data="d"), batch=size["rows"], max_len=size["max_len"], pack=True),
        compute=ComputePlan(),
    )
    run = levers.resolve(plan, device)
    m = levers.prepare(model(size, run.attention, run.precision.weights, device), run)
    items = pack([Example(d, d, "") for d in docs], size["max_len"])
    steps = size["steps"]
    cfg = LoopConfig(steps, max(1, len(items) // size["rows"]), size["rows"], size["rows"], 1.0, 1, None, None)
    optimizer = make_optimizer(m, 1e-4, 0.0)
    stamps: list[tuple[float, int]] = []

    class Clock(Hooks):
        def log(self, record: dict[str, Any]) -> None:
            if "loss" in record:
                stamps.append((time.perf_counter(), record["tokens"]))

    train(
        m,
        items,
        task="completion",
        collator=Collator("completion", 0, True, run.attention, run.precision.weights),
        cfg=cfg,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, steps, 0, "constant"),
        state=LoopState(DataOrder(len(items), 0)),
        device=device,
        hooks=Clock(),
        precision=run.precision,
    )
    (t0, n0), (t1, n1) = stamps[size["warmup"] - 1], stamps[-1]
    return {"tok_s": (n1 - n0) / (t1 - t0), "attention": run.attention, "weights": str(run.precision.weights)}


def _hf(size: dict[str, Any], docs: list[list[int]], device: Any, trl: bool) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithFlattening, Trainer, TrainerCallback, TrainingArguments

    cuda = device.type == "cuda"
    flash = cuda and importlib.util.find_spec("flash_attn") is not None
    attention = "flash_attention_2" if flash else "sdpa"
    dtype = torch.bfloat16 if cuda else torch.float32
    per_step = max(1, round(size["rows"] * size["max_len"] / (sum(map(len, docs)) / len(docs))))
    stamps: list[tuple[float, int]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            stamps.append((time.perf_counter(), state.global_step))

    args = dict(
        output_dir="/tmp/ftlang-peers",
        per_device_train_batch_size=per_step,
        max_steps=size["steps"],
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        logging_steps=10**6,
        save_strategy="no",
        report_to="none",
        bf16=cuda,
        use_cpu=not cuda,
        disable_tqdm=True,
        seed=0,
        dataloader_drop_last=True,
    )
    data = Dataset.from_dict({"input_ids": docs})
    m = model(size, attention, dtype, device)
    if trl:
        from trl import SFTConfig, SFTTrainer

        from ftlang.runtime.models import train_scratch_tokenizer

        config = SFTConfig(**args, padding_free=True, max_length=None, gradient_checkpointing=False)
        # The rows are token ids already; TRL still wants a tokenizer (for its pad token).
        tokenizer = train_scratch_tokenizer(["a tokenizer for its special tokens"], 300)
        trainer = SFTTrainer(model=m, args=config, train_dataset=data, processing_class=tokenizer, callbacks=[Clock()])
    else:
        trainer = Trainer(
            model=m,
            args=TrainingArguments(**args),
            train_dataset=data,
            data_collator=DataCollatorWithFlattening(),
            callbacks=[Clock()],
        )
    trainer.train()
    # The peers shuffle: a step's tokens are counted as its documents times their mean length.
    tokens_per_step = per_step * sum(map(len, docs)) / len(docs)
    (t0, s0), (t1, s1) = stamps[size["warmup"] - 1], stamps[-1]
    return {"tok_s": tokens_per_step * (s1 - s0) / (t1 - t0), "attention": attention, "docs_per_step": per_step}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--runners", default="ours,trainer,trl")
    args = parser.parse_args()
    size = SIZES["tiny" if args.tiny else "gpu"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    docs = documents(size)
    results: dict[str, Any] = {}
    for runner in args.runners.split(","):
        try:
            results[runner] = ours(size, docs, device) if runner == "ours" else _hf(size, docs, device, runner == "trl")
        except Exception as e:  # a peer that fails here is reported, not fatal to the others
            results[runner] = {"error": f"{type(e).__name__}: {e}"[:300]}
        print(runner, json.dumps(results[runner]), flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_peers.json").write_text(json.dumps({"size": size, "results": results}, indent=2) + "\n")
    base = results.get("ours", {}).get("tok_s")
    lines = ["| runner | attention | tokens/s | ours ÷ runner |", "|---|---|---:|---:|"]
    for runner, r in results.items():
        if "error" in r:
            lines.append(f"| {runner} | failed: {r['error'][:100]} | | |")
            continue
        ratio = f"{base / r['tok_s']:.2f}×" if base else "n/a"
        lines.append(f"| {runner} | {r['attention']} | {r['tok_s']:,.0f} | {ratio} |")
    (args.out / "gpu_peers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
