"""GPU smoke check of the runtime (not a test): CUDA runs, bf16 autocast, packed masks, tok/s.

Run on a CUDA machine from the repo root with ftlang importable and HF_HUB_OFFLINE=1:
    python3 bench/gpu_check.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after an installed ftlang

from ftlang.plan.models import DataPlan, DataRef, FileData, FullMethod, LoraMethod, ScratchModel, SplitPlan
from ftlang.runtime import run_plan
from ftlang.runtime.data.batching import Collator, pack
from ftlang.runtime.data.prompts import IGNORE, Example
from tests.runtime.factories import chat_plan, classify_plan, tickets

REPO = Path(__file__).resolve().parents[2]


def say(label, **kw):
    print(label, json.dumps(kw, default=str), flush=True)


def packed_isolation(impl: str) -> float:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = (
        LlamaForCausalLM(
            LlamaConfig(
                vocab_size=64,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=128,
                attn_implementation=impl,
            )
        )
        .cuda()
        .eval()
    )
    exs = [Example(list(range(s, s + n)), [IGNORE] * n, "x") for s, n in ((1, 7), (20, 11), (40, 3))]
    batch = Collator("chat", 0, True, impl, torch.float32)(pack(exs, 32)).to(torch.device("cuda"))
    worst, at = 0.0, 0
    with torch.no_grad():
        packed = model(**batch.model_inputs()).logits
        for e in exs:
            alone = model(input_ids=torch.tensor([e.input_ids], device="cuda")).logits[0]
            worst = max(worst, (packed[0, at : at + len(e.input_ids)] - alone).abs().max().item())
            at += len(e.input_ids)
    return worst


def main() -> None:
    import peft
    import transformers

    say(
        "env",
        torch=torch.__version__,
        transformers=transformers.__version__,
        peft=peft.__version__,
        cuda=torch.cuda.is_available(),
        gpu=torch.cuda.get_device_name(0),
    )
    for impl in ("sdpa", "eager"):
        say("packed-isolation", impl=impl, max_abs_diff=packed_isolation(impl))
    root = Path(tempfile.mkdtemp())
    for label, plan in (
        (
            "chat-lora-packed",
            chat_plan(
                root,
                split={"train": 0.8, "eval": 0.2},
                eval_on="eval",
                train={"pack": True, "max_len": 128, "epochs": 3, "checkpoint_every": 5},
            ),
        ),
        (
            "chat-full",
            chat_plan(
                root,
                method=FullMethod(),
                split={"train": 0.8, "eval": 0.2},
                eval_on="eval",
                train={"epochs": 3, "lr": 1e-2},
            ),
        ),
    ):
        r = run_plan(plan, root / label, quiet=True)
        say(
            label,
            steps=r.steps,
            final_loss=r.final_loss,
            eval_loss=r.metrics.get("eval_loss"),
            device=json.loads((r.run_dir / "lock.json").read_text())["device"]["name"],
        )
    cls = classify_plan(root, tickets(160), method=LoraMethod(rank=4), train={"epochs": 2, "max_len": 32})
    cls = cls.model_copy(
        update={"model": cls.model.model_copy(update={"source": ScratchModel(hidden=64, layers=2, heads=4, vocab=300)})}
    )
    r = run_plan(cls, root / "cls", quiet=True)
    say(
        "scratch-classification-lora",
        acc=r.metrics["eval_accuracy"],
        base=r.metrics.get("base_eval_accuracy"),
        loss=r.final_loss,
    )

    # Throughput: a larger scratch llama, full fine-tune, on the recipes' instruction data.
    data = DataPlan(
        name="qa",
        source=FileData(kind="jsonl", path="recipes/data/instructions.jsonl"),
        split=SplitPlan(parts={"train": 1.0}),
    )
    base = chat_plan(
        REPO, method=FullMethod(), model={"hidden": 256, "layers": 4, "heads": 8, "vocab": 2048, "max_len": 256}
    )
    from ftlang.plan.models import PromptPlan, Turn

    prompt = PromptPlan(
        name="p",
        task="chat",
        fields=["instruction", "response"],
        turns=[Turn(role="user", template="{{ instruction }}"), Turn(role="assistant", template="{{ response }}")],
    )
    for pack_on in (False, True):
        plan = base.model_copy(
            update={
                "data": [data],
                "prompt": prompt,
                "train": base.train.model_copy(
                    update={
                        "data": DataRef(data="qa", split="train"),
                        "pack": pack_on,
                        "max_len": 256,
                        "epochs": 5,
                        "batch": 16,
                        "micro_batch": 16,
                    }
                ),
            }
        )
        t = time.perf_counter()
        r = run_plan(plan, root / f"tput-{pack_on}", quiet=True)
        say(
            "tput",
            pack=pack_on,
            wall=round(time.perf_counter() - t, 2),
            elapsed=r.metrics["elapsed"],
            steps=r.steps,
            tokens=r.metrics["tokens"],
            tok_s=r.metrics["tok_s"],
            padding=r.metrics["padding"],
        )


if __name__ == "__main__":
    main()
