"""GPU check of scale-out on one CUDA device: NCCL collectives, DDP and FSDP steps, FSDP checkpoints.

One GPU cannot hold two NCCL ranks, so this joins a one-rank NCCL group in this process: every
collective, wrapper and gather of runtime/train/distributed.py then runs on CUDA for real. Run from
the repository root (`bash bench/gpu.sh` runs it):  HF_HUB_OFFLINE=1 python3 bench/gpu_scaling.py
Without CUDA it runs the same on the CPU with gloo, as a dry run of the script itself.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from ftlang.runtime.data.batching import Collator, Item
from ftlang.runtime.data.prompts import Example
from ftlang.runtime.train import distributed
from ftlang.runtime.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from ftlang.runtime.train.data_order import DataOrder
from ftlang.runtime.train.loop import Hooks, LoopConfig, LoopState, train
from ftlang.runtime.train.optimizers import make_optimizer
from ftlang.runtime.train.schedule import make_scheduler

STEPS = 6


def items(n: int = 32) -> list[Item]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        ids = torch.randint(1, 128, (12 + i % 9,), generator=gen).tolist()
        out.append((Example(ids, ids, f"row {i}"),))
    return out


def model(strategy: str | None) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A LoRA llama on the GPU, and what trains it: itself, or its DDP/FSDP wrapper."""
    torch.manual_seed(0)
    base = LlamaForCausalLM(
        LlamaConfig(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    )
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    m = get_peft_model(base.to(distributed.device()), lora)
    return m, (distributed.wrap(m, strategy) if strategy else m)


def run(strategy: str | None, run_dir: Path | None = None, resume: Path | None = None) -> list[float]:
    m, trainee = model(strategy)
    data = items()
    cfg = LoopConfig(STEPS, 4, 8, 4, 1.0, 1, None, 3 if run_dir else None)
    optimizer = make_optimizer(m, 1e-3, 0.0)
    scheduler = make_scheduler(optimizer, STEPS, 1, "cosine")
    state = LoopState(DataOrder(len(data), 0))
    if resume is not None:
        load_checkpoint(resume, m, optimizer, scheduler, state, distributed.device())
    losses: list[float] = []

    class Record(Hooks):
        def log(self, record):
            losses.append(record["loss"])

        def checkpoint(self, st):
            save_checkpoint(run_dir, m, optimizer, scheduler, st, 0.0)

    train(
        trainee,
        data,
        task="chat",
        collator=Collator("chat", 0, False, None, torch.float32),
        cfg=cfg,
        optimizer=optimizer,
        scheduler=scheduler,
        state=state,
        device=distributed.device(),
        hooks=Record(),
    )
    return losses


def main() -> int:
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl" if cuda else "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        plain, ddp, fsdp = run(None), run("ddp"), run("fsdp")
        with tempfile.TemporaryDirectory() as tmp:
            run("fsdp", Path(tmp))  # checkpoints at steps 3 and 6
            resumed = run("fsdp", resume=Path(tmp) / "checkpoints" / "step-00000003")
            assert latest_checkpoint(Path(tmp)) is not None
        result = {
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "backend": str(dist.get_backend()),
            "plain": plain,
            "ddp_max_diff": max(abs(a - b) for a, b in zip(plain, ddp)),
            "fsdp_max_diff": max(abs(a - b) for a, b in zip(plain, fsdp)),
            "fsdp_resume_max_diff": max(abs(a - b) for a, b in zip(fsdp[3:], resumed)),
        }
    finally:
        dist.destroy_process_group()
    print(json.dumps(result, indent=2))
    ok = all(result[k] < 1e-3 for k in ("ddp_max_diff", "fsdp_max_diff", "fsdp_resume_max_diff"))
    print(f"scale-out on {result['device']}:", "ok" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
