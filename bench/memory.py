"""plan/memory.py's estimate against the measured peak memory of one training step.

    python bench/memory.py                 # CPU: peak RSS of each case, in its own process
    python bench/memory.py --device cuda   # GPU: torch.cuda.max_memory_allocated (bench/gpu.sh)
    python bench/memory.py --tiny          # a tiny model, to rehearse the script

Each case builds a scratch llama, applies the run's levers (runtime/train/levers.py), takes one
optimizer step on packed rows through the training loop's loss, and reports the peak: on CPU
the peak resident set after the model is in memory (the load's transient is reset with
/proc/self/clear_refs) minus the process's resident set before the model, with glibc told to
return freed memory at once (else the resident set keeps every freed activation); on CUDA the
peak of torch's allocator. Before the baseline, the same case takes a step on the tiny shape:
what a process pays once, whatever the model (lazy imports, bitsandbytes' and torch's kernels,
thread pools), is then outside the measurement for every case alike, as it is outside the
estimate. Gradient checkpointing's effect on the loss is checked too (same loss).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHAPES = {
    # ~34 M parameters: big enough that weights and activations dwarf the allocator's noise.
    "bench": {"hidden": 512, "intermediate": 1408, "layers": 8, "heads": 8, "vocab": 8000, "max_len": 512},
    "tiny": {"hidden": 64, "intermediate": 176, "layers": 2, "heads": 4, "vocab": 512, "max_len": 64},
    # Llama-3-8B's shape (random weights): the GPU bench's LoRA and QLoRA cases.
    "8b": {
        "hidden": 4096,
        "intermediate": 14336,
        "layers": 32,
        "heads": 32,
        "kv_heads": 8,
        "vocab": 128256,
        "max_len": 2048,
    },
}
CASES = {
    "full": {"method": "full"},
    "full+checkpointing": {"method": "full", "gradient_checkpointing": True},
    "full+bf16_master": {"method": "full", "precision": "bf16_master"},
    "lora": {"method": "lora"},
    "lora+checkpointing": {"method": "lora", "gradient_checkpointing": True},
    "qlora+checkpointing": {"method": "lora", "gradient_checkpointing": True, "quantize": "nf4"},
}


def make_plan(shape: dict[str, int], case: dict[str, Any], device: str, micro: int) -> Any:
    from ftlang.plan.models import (
        ComputePlan,
        DataPlan,
        DataRef,
        FullMethod,
        InlineData,
        LoraMethod,
        ModelPlan,
        Optimizer,
        Plan,
        PromptPlan,
        ScratchModel,
        TrainPlan,
    )

    model = ModelPlan(name="m", source=ScratchModel(**shape), quantize=case.get("quantize"))
    method = FullMethod() if case["method"] == "full" else LoraMethod(rank=16, targets="all_linear")
    train = TrainPlan(
        data=DataRef(data="d"),
        batch=micro,
        micro_batch=micro,
        max_len=shape["max_len"],
        gradient_checkpointing=case.get("gradient_checkpointing", False),
        optimizer=Optimizer(kind="adamw_8bit" if case.get("quantize") else "adamw"),
    )
    return Plan(
        recipe="memory",
        root=".",
        model=model,
        data=[DataPlan(name="d", source=InlineData(rows=[{"t": "x"}]))],
        prompt=PromptPlan(name="p", task="completion", input="{{ t }}", target="{{ t }}"),
        method=method,
        train=train,
        compute=ComputePlan(device=device, precision=case.get("precision", "bf16" if device == "cuda" else "fp32")),
    )


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _settle() -> None:
    """Return freed memory to the system and start the peak afresh from here."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")


def _config(shape: dict[str, int]) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=shape["vocab"],
        hidden_size=shape["hidden"],
        intermediate_size=shape["intermediate"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape.get("kv_heads", shape["heads"]),
        max_position_embeddings=shape["max_len"],
        tie_word_embeddings=False,
    )


def _model(shape: dict[str, int], case: dict[str, Any], run_levers: Any, folder: str) -> Any:
    """The case's model as a run holds it: built, quantized through a saved checkpoint, wrapped."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    from ftlang.runtime.train import levers

    device = run_levers.device
    # Built on the device (an 8 B model's random init on the host takes minutes), in the
    # weights' dtype; QLoRA saves it (16 GB in bf16 for 8 B) and loads it quantized, as a run does.
    with torch.device(device):
        built = LlamaForCausalLM(_config(shape)).to(run_levers.precision.weights)
    if case.get("quantize"):
        built.save_pretrained(folder)
        del built
        if device.type == "cuda":
            torch.cuda.empty_cache()
        model = AutoModelForCausalLM.from_pretrained(folder, **levers.load_kwargs(run_levers))
    else:
        model = built
        model.set_attn_implementation(run_levers.attention)
    model = levers.prepare(model, run_levers)
    if case["method"] == "lora":
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    return model


def _stepper(shape_name: str, case_name: str, device_name: str, micro: int, folder: str) -> tuple[Any, Any]:
    """The case's plan, and a function taking one optimizer step on packed rows (the loss)."""
    import torch

    from ftlang.runtime.data.batching import collate_lm
    from ftlang.runtime.data.prompts import Example
    from ftlang.runtime.train import levers
    from ftlang.runtime.train.loop import loss_sum
    from ftlang.runtime.train.master_weights import MasterWeights
    from ftlang.runtime.train.optimizers import make_optimizer

    shape, case = SHAPES[shape_name], CASES[case_name]
    plan = make_plan(shape, case, device_name, micro)
    run_levers = levers.resolve(plan, torch.device(device_name))
    half = shape["max_len"] // 2
    rows = [tuple(Example(list(range(2, 2 + half)), list(range(2, 2 + half)), "x") for _ in range(2))] * micro
    batch = collate_lm(rows, 0, packed=True).to(run_levers.device)
    model = _model(shape, case, run_levers, folder)
    masters = MasterWeights(model.parameters()) if run_levers.precision.master_weights else None
    optimizer = make_optimizer(model, 1e-4, 0.0, plan.train.optimizer, masters)
    model.train()

    def step() -> float:
        with run_levers.precision.autocast():
            loss, _ = loss_sum(model, batch, "completion")
        (loss / batch.n_targets).backward()
        if masters:
            masters.take_grads()
        optimizer.step()
        if masters:
            masters.write_back()
        optimizer.zero_grad(set_to_none=True)
        return (loss / batch.n_targets).item()

    return plan, step


def one(shape_name: str, case_name: str, device_name: str, micro: int, steps: int = 1) -> dict[str, Any]:
    """One case in this process: the estimate and the measured peak, in bytes.

    The same case on the tiny shape runs first: what a process pays once whatever the model
    (lazy imports, kernels' code pages, thread pools, oneDNN's caches) is then in the baseline,
    for every case alike; the estimate counts what grows with the model and the batch."""
    import torch

    from ftlang.plan.memory import estimate
    from ftlang.runtime.train.fits import model_shape

    torch.manual_seed(0)
    torch.set_num_threads(2)
    device = torch.device(device_name)
    with tempfile.TemporaryDirectory() as folder:
        _stepper("tiny", case_name, device_name, 2, folder)[1]()
    _settle()
    before = _status("VmRSS:")
    with tempfile.TemporaryDirectory() as folder:
        plan, step = _stepper(shape_name, case_name, device_name, micro, folder)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        first = step()  # allocates the optimizer's state: the steps after it are what training holds
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        _settle()
        started = time.perf_counter()
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()  # weights and optimizer state included
        else:
            peak = _status("VmHWM:") - before
        seconds = time.perf_counter() - started
    shape = SHAPES[shape_name]
    est = estimate(plan, model_shape(plan), device.type)
    return {
        "shape": shape_name,
        "case": case_name,
        "device": device.type,
        "micro_batch": micro,
        "tokens": micro * shape["max_len"],
        "loss": first,
        "tok_s": steps * micro * shape["max_len"] / seconds,
        "measured": peak,
        "estimate": est.total,
        "ratio": est.total / peak,
        "parts": {
            "weights": est.weights,
            "gradients": est.gradients,
            "optimizer": est.optimizer,
            "master": est.master,
            "activations": est.activations_checkpointed if est.checkpointing else est.activations,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--shape", default=None, choices=sorted(SHAPES))
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--micro", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1, help="measured steps after the first (tokens/s over them)")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="write memory-<device>.json here")
    args = parser.parse_args()
    shape = args.shape or ("tiny" if args.tiny else "bench")
    if args.one:
        print(json.dumps(one(shape, args.one, args.device, args.micro, args.steps)))
        return
    results = []
    for case in args.cases.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            case,
            "--shape",
            shape,
            "--device",
            args.device,
            "--micro",
            str(args.micro),
        ]
        # Large blocks straight from mmap, and freed memory given back at once: the resident set
        # then follows the live tensors instead of what glibc keeps cached after freeing them.
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode:
            print(f"{case}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"{case:22} measured {r['measured'] / 1e6:9.1f} MB  estimate {r['estimate'] / 1e6:9.1f} MB  "
            f"ratio {r['ratio']:.2f}  loss {r['loss']:.6f}  {r['tok_s']:,.0f} tok/s",
            flush=True,
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"memory-{args.device}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
