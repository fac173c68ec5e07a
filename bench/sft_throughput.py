"""SFT throughput against the peers: our runtime from a .ft recipe, a bare torch loop, HF Trainer, TRL.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sft_throughput.py [--quick] [--repeats N] [--steps N]

One scratch llama (hidden 256, 4 layers, 4 heads, intermediate 688, vocab 8,192: 7.36 M
parameters, fp32), the same token ids and the same settings (batch 8 of 256 tokens, AdamW
lr 1e-3 constant, clip 1.0, no gradient checkpointing) through each runner, full fine-tuning
and LoRA (r 16 on q_proj, v_proj). Each run is its own process; runs alternate between
runners over the repeats, so machine load hits all of them alike. Throughput counts the
steps after the first `--warmup` ones. A second data set with long-tailed lengths measures
our padded vs packed training in effective (non-padding) tokens/s. TRL is the optional
`bench` extra: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchlib import long_tailed, text_writer, write_jsonl

SEED = 1234
LR = 1e-3
BATCH = 8
MAX_LEN = 256
LORA_RANK, LORA_ALPHA, LORA_TARGETS = 16, 32, ["q_proj", "v_proj"]
MODEL = "scratch(llama, hidden = 256, layers = 4, heads = 4, intermediate = 688, vocab = 8192, max_len = 256)"
PEERS = ("ours", "torch", "trainer", "trl")
RESULT = "RESULT "  # the child's last stdout line starts with this, then JSON


# --- data and recipes (parent; no torch) ----------------------------------------------


def write_data(folder: Path) -> None:
    """fixed.jsonl: every text longer than 256 tokens (truncated: no padding anywhere);
    ragged.jsonl: log-normal lengths (median 40 words, a long tail up to 400)."""
    write = text_writer(SEED)
    rng = random.Random(SEED + 1)
    write_jsonl(folder / "fixed.jsonl", ({"prompt": f"Story {i}:\n", "text": write(330)} for i in range(256)))
    write_jsonl(
        folder / "ragged.jsonl",
        ({"prompt": f"Note {i}:\n", "text": write(long_tailed(rng, 40, 0.9, 400))} for i in range(2_000)),
    )


def recipe_path(work: Path, data: str, method: str, pack: bool) -> Path:
    return work / f"{data}-{method}-{int(pack)}.ft"


def recipe_text(data: str, method: str, pack: bool, steps: int) -> str:
    lora = (
        f"method lora {{\n  rank = {LORA_RANK}\n  alpha = {LORA_ALPHA}\n  targets = [{', '.join(LORA_TARGETS)}]\n}}\n"
        if method == "lora"
        else "method full {}\n"
    )
    return (
        f'recipe bench_{data}_{method} "Training throughput benchmark"\n\n'
        f"model base = {MODEL}\n\n"
        f'data texts = jsonl("{data}.jsonl")\n\n'
        'prompt continue {\n  input "{{ prompt }}"\n  target "{{ text }}"\n}\n\n'
        f"{lora}\n"
        f"train {{\n  max_steps = {steps}\n  lr = {LR}\n  batch = {BATCH}\n  max_len = {MAX_LEN}\n"
        f"  pack = {'true' if pack else 'false'}\n  seed = {SEED}\n}}\n"
    )


# --- children: one runner per process ------------------------------------------------


@dataclass(frozen=True)
class Spec:
    runner: str  # prepare | ours | torch | trainer | trl
    method: str = "full"
    data: str = "fixed"
    pack: bool = False
    steps: int = 12
    warmup: int = 2
    work: str = ""


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class StepClock:
    """Wall and process CPU time at the end of each optimizer step, with the tokens so far.

    CPU time is the cross-check: on a shared machine, wall time also counts the moments
    other processes held the core, CPU time only this run's own work.
    """

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.tokens: list[int] = []

    def stamp(self, tokens: int) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())
        self.tokens.append(tokens)

    def rates(self, warmup: int) -> dict[str, float]:
        """Tokens per wall second and per CPU second over the steps after `warmup`."""
        done = self.tokens[-1] - self.tokens[warmup - 1]
        return {
            "tok_s": done / (self.wall[-1] - self.wall[warmup - 1]),
            "cpu_tok_s": done / (self.cpu[-1] - self.cpu[warmup - 1]),
        }


def child_prepare(spec: Spec) -> dict[str, Any]:
    """Build the scratch model and tokenise the fixed data exactly as our runtime does, for the peers."""
    from ftlang.compiler.api import check_path
    from ftlang.runtime.data.prompts import Renderer, plain_text, tokenize
    from ftlang.runtime.data.sources import load_data, select
    from ftlang.runtime.models import build_scratch_model, train_scratch_tokenizer

    work = Path(spec.work)
    plan = check_path(recipe_path(work, "fixed", "full", False)).plan
    assert plan is not None
    data = plan.data[0]
    rows = select({data.name: load_data(data, work, plan.prompt.fields)}, plan.train.data[0])
    rendered, _ = Renderer(plan.prompt).render_all(rows, False)
    tok = train_scratch_tokenizer([plain_text(r) for r in rendered], plan.model.source.vocab)
    model = build_scratch_model(plan.model.source, tok, plan.prompt.task, plan.train.seed)
    model.save_pretrained(work / "model")
    tok.save_pretrained(work / "model")
    examples, _ = tokenize(rendered, tok, plan.prompt.task, plan.train.max_len)
    assert all(len(e.input_ids) == MAX_LEN for e in examples), "fixed data must fill max_len"
    (work / "fixed.json").write_text(
        json.dumps({"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]})
    )
    return {"parameters": sum(p.numel() for p in model.parameters()), "vocab": len(tok), "examples": len(examples)}


def child_ours(spec: Spec) -> dict[str, Any]:
    """What a user does: compile the recipe, run the plan. Each metrics record written closes a step."""
    from ftlang.compiler.api import check_path
    from ftlang.runtime import run_plan, rundir

    clock = StepClock()
    write = rundir.MetricsLog.write

    def stamped(log: Any, record: dict[str, Any]) -> None:  # a training record closes each step
        if "loss" in record:
            clock.stamp(record["tokens"])
        write(log, record)

    rundir.MetricsLog.write = stamped
    work = Path(spec.work)
    plan = check_path(recipe_path(work, spec.data, spec.method, spec.pack)).plan
    assert plan is not None
    out = Path(tempfile.mkdtemp(dir=work)) / "run"
    result = run_plan(plan, out, quiet=True)
    first = next(r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r)
    return {
        **clock.rates(spec.warmup),
        "first_loss": first["loss"],
        "padding": result.metrics["padding"],
        "threads": json.loads((out / "lock.json").read_text())["device"]["threads"],
    }


def _peer_model(spec: Spec) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(Path(spec.work) / "model", dtype=torch.float32)
    model.config.use_cache = False
    return model


def _lora_config() -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"
    )


def _fixed_data(spec: Spec) -> dict[str, list[list[int]]]:
    return json.loads((Path(spec.work) / "fixed.json").read_text())


def child_torch(spec: Spec) -> dict[str, Any]:
    """The loop a user writes by hand: HF model with labels, AdamW, clipping, .item() to log.

    Takes batches in the order our runtime does (randperm from a generator seeded like
    train.seed), so its first loss must equal ours: the two ran the same model on the same data.
    """
    import torch
    from peft import get_peft_model

    torch.manual_seed(SEED)
    model = _peer_model(spec)
    if spec.method == "lora":
        model = get_peft_model(model, _lora_config())
    data = _fixed_data(spec)
    ids, labels = torch.tensor(data["input_ids"]), torch.tensor(data["labels"])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR)
    gen = torch.Generator().manual_seed(SEED)
    order = torch.cat(
        [torch.randperm(len(ids), generator=gen) for _ in range(math.ceil(spec.steps * BATCH / len(ids)))]
    )
    model.train()
    clock, losses = StepClock(), []
    for step in range(spec.steps):
        idx = order[step * BATCH : (step + 1) * BATCH]
        loss = model(input_ids=ids[idx], attention_mask=torch.ones_like(ids[idx]), labels=labels[idx]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        clock.stamp((step + 1) * BATCH * MAX_LEN)
    return {**clock.rates(spec.warmup), "first_loss": losses[0]}


def _hf_run(spec: Spec, make: Callable[[Any, list[Any]], Any]) -> dict[str, Any]:
    """Trainer or SFTTrainer on the same ids; a callback stamps the end of every optimizer step."""
    from datasets import Dataset
    from transformers import TrainerCallback

    clock = StepClock()

    class Stamp(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            clock.stamp(state.global_step * BATCH * MAX_LEN)

    data = _fixed_data(spec)
    dataset = Dataset.from_dict(
        {
            "input_ids": data["input_ids"],
            "labels": data["labels"],
            "attention_mask": [[1] * len(x) for x in data["input_ids"]],
        }
    )
    trainer = make(dataset, [Stamp()])
    trainer.train()
    first = next(r["loss"] for r in trainer.state.log_history if "loss" in r)
    return {**clock.rates(spec.warmup), "first_loss": first}


def _hf_args(spec: Spec) -> dict[str, Any]:
    # The shared settings, spelt in TrainingArguments' words. logging_steps=1 matches our
    # runtime's default log_every = 1 (one loss read per step in both).
    return {
        "output_dir": str(Path(spec.work) / "hf-out"),
        "per_device_train_batch_size": BATCH,
        "max_steps": spec.steps,
        "learning_rate": LR,
        "lr_scheduler_type": "constant",
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "seed": SEED,
        "disable_tqdm": True,
        "bf16": False,
    }


def child_trainer(spec: Spec) -> dict[str, Any]:
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments, default_data_collator

    def make(dataset: Any, callbacks: list[Any]) -> Any:
        model = _peer_model(spec)
        if spec.method == "lora":
            model = get_peft_model(model, _lora_config())
        return Trainer(
            model=model,
            args=TrainingArguments(**_hf_args(spec)),
            train_dataset=dataset,
            data_collator=default_data_collator,
            callbacks=callbacks,
        )

    return _hf_run(spec, make)


def child_trl(spec: Spec) -> dict[str, Any]:
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    def make(dataset: Any, callbacks: list[Any]) -> Any:
        # TRL's own defaults differ (bf16, gradient checkpointing): set to the shared fp32 settings.
        args = SFTConfig(**_hf_args(spec), max_length=MAX_LEN, packing=False, gradient_checkpointing=False)
        return SFTTrainer(
            model=_peer_model(spec),
            args=args,
            train_dataset=dataset,
            processing_class=AutoTokenizer.from_pretrained(Path(spec.work) / "model"),
            peft_config=_lora_config() if spec.method == "lora" else None,
            callbacks=callbacks,
        )

    return _hf_run(spec, make)


CHILDREN: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "prepare": child_prepare,
    "ours": child_ours,
    "torch": child_torch,
    "trainer": child_trainer,
    "trl": child_trl,
}


def child_main(raw: str) -> None:
    spec = Spec(**json.loads(raw))
    out = CHILDREN[spec.runner](spec)
    import torch  # loaded by every runner by now; a runner's own thread count overrides

    print(
        RESULT + json.dumps({"threads": torch.get_num_threads(), **out, "peak_rss_mb": round(_peak_rss_mb(), 1)}),
        flush=True,
    )


# --- parent: schedule, collect, report -----------------------------------------------


def spawn(spec: Spec, threads: int) -> dict[str, Any]:
    """Run one child with a fixed thread count; its result, or {"error": ...}."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONWARNINGS": "ignore",
    }
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(asdict(spec))],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]}
    return {
        **json.loads(lines[-1][len(RESULT) :]),
        "wall_s": round(time.perf_counter() - start, 1),
        "load": round(load, 2),
    }


Results = dict[tuple[str, str, str, bool], list[dict[str, Any]]]  # (runner, method, data, pack) -> runs


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def _fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def report(meta: dict[str, Any], results: Results) -> str:
    """Markdown tables, then the one-line verdict: ratios of our median tokens/s to the peers'."""

    def runs(runner: str, method: str, data: str = "fixed", pack: bool = False) -> list[dict[str, Any]]:
        return results.get((runner, method, data, pack), [])

    def rss(rs: list[dict[str, Any]]) -> str:
        return _fmt(max((r["peak_rss_mb"] for r in rs if "peak_rss_mb" in r), default=None), "{:,.0f}")

    lines = [
        f"model: scratch llama, {meta['parameters']:,} parameters (vocab {meta['vocab']}), fp32; "
        f"batch {BATCH} x {MAX_LEN} tokens; {meta['threads']} thread(s) per run; "
        f"{meta['repeats']} repeats x {meta['steps']} steps ({meta['warmup']} warm-up); load avg {meta['load']}",
        "",
        "| runner | method | tokens/s | ours ÷ it | tokens per CPU-s | ours ÷ it (CPU) | peak RSS MB "
        "| first loss | runs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios: dict[str, dict[str, list[float]]] = {"tok_s": {}, "cpu_tok_s": {}}
    for method in ("full", "lora"):
        ours = {k: _median(runs("ours", method), k) for k in ratios}
        for runner in PEERS:
            rs = runs(runner, method)
            mine = {k: _median(rs, k) for k in ratios}
            vs = {k: _ratio(ours[k], mine[k]) for k in ratios}
            for k, v in vs.items():
                if runner != "ours" and v:
                    ratios[k].setdefault(runner, []).append(v)
            fails = sum("error" in r for r in rs)
            lines.append(
                f"| {runner} | {method} | {_fmt(mine['tok_s'], '{:,.0f}')} | {_fmt(vs['tok_s'], '{:.2f}x')} "
                f"| {_fmt(mine['cpu_tok_s'], '{:,.0f}')} | {_fmt(vs['cpu_tok_s'], '{:.2f}x')} | {rss(rs)} "
                f"| {_fmt(_median(rs, 'first_loss'), '{:.4f}')} | {len(rs) - fails}"
                + (f" ({fails} failed)" if fails else "")
                + " |"
            )
    lines += [
        "",
        "ragged data (log-normal lengths), ours, full fine-tuning, effective (non-padding) tokens:",
        "",
        "| batching | tokens/s | tokens per CPU-s | padding share | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, pack in (("padded", False), ("packed", True)):
        rs = runs("ours", "full", "ragged", pack)
        lines.append(
            f"| {label} | {_fmt(_median(rs, 'tok_s'), '{:,.0f}')} | {_fmt(_median(rs, 'cpu_tok_s'), '{:,.0f}')} "
            f"| {_fmt(_median(rs, 'padding'), '{:.1%}')} | {rss(rs)} |"
        )
    gain = {
        k: _ratio(_median(runs("ours", "full", "ragged", True), k), _median(runs("ours", "full", "ragged", False), k))
        for k in ratios
    }
    worst = {k: {r: min(v) for r, v in by.items()} for k, by in ratios.items()}  # the smaller of full and LoRA

    def verdict(k: str) -> str:
        w = worst[k]
        return (
            f"ratio_vs_trl={_fmt(w.get('trl'), '{:.2f}')} ratio_vs_hf={_fmt(w.get('trainer'), '{:.2f}')} "
            f"packing_gain={_fmt(gain[k], '{:.2f}')}"
        )

    lines += [
        "",
        "ratios: ours ÷ peer, medians, the smaller of full and LoRA; torch = the bare loop",
        f"by CPU time: ratio_vs_torch={_fmt(worst['cpu_tok_s'].get('torch'), '{:.2f}')} {verdict('cpu_tok_s')}",
        f"ratio_vs_torch={_fmt(worst['tok_s'].get('torch'), '{:.2f}')}",
        verdict("tok_s"),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="2 repeats of 6 steps (under 10 minutes)")
    parser.add_argument("--repeats", type=int, help="runs per runner and method (default 3, quick 2)")
    parser.add_argument("--steps", type=int, help="optimizer steps per run (default 16, quick 6)")
    parser.add_argument("--warmup", type=int, default=2, help="first steps left out of the timing")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads of every run (default 1: the runtime's choice on 2 cores)",
    )
    parser.add_argument("--runners", default=",".join(PEERS), help="comma-separated subset of " + ",".join(PEERS))
    parser.add_argument("--no-ragged", action="store_true", help="skip the padded vs packed comparison")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    repeats = args.repeats or (2 if args.quick else 3)
    steps = args.steps or (6 if args.quick else 16)
    runners = [r for r in args.runners.split(",") if r]
    if steps <= args.warmup or not set(runners) <= set(PEERS):
        parser.error(f"--steps must exceed --warmup ({args.warmup}); runners are among {', '.join(PEERS)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as folder:
        work = Path(folder)
        write_data(work)
        configs = [(runner, method, "fixed", False) for method in ("full", "lora") for runner in runners]
        if not args.no_ragged:
            configs += [("ours", "full", "ragged", False), ("ours", "full", "ragged", True)]
        for data, method, pack in itertools.product(("fixed", "ragged"), ("full", "lora"), (False, True)):
            recipe_path(work, data, method, pack).write_text(recipe_text(data, method, pack, steps))
        prep = spawn(Spec("prepare", work=str(work)), args.threads)
        if "error" in prep:
            sys.exit(f"prepare failed: {prep['error']}")
        results: Results = {}
        for rep in range(repeats):
            # Rotate the order each repeat so no runner always follows the same neighbour.
            shift = rep % len(configs)
            for runner, method, data, pack in configs[shift:] + configs[:shift]:
                spec = Spec(runner, method, data, pack, steps, args.warmup, str(work))
                res = spawn(spec, args.threads)
                results.setdefault((runner, method, data, pack), []).append(res)
                print(
                    f"[{time.perf_counter() - started:6.0f}s] {runner:7} {method:4} {data:6} "
                    f"pack={int(pack)} -> {json.dumps(res)}",
                    file=sys.stderr,
                    flush=True,
                )
    meta = {
        **prep,
        "threads": args.threads,
        "repeats": repeats,
        "steps": steps,
        "warmup": args.warmup,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "runs": [
                        {"runner": k[0], "method": k[1], "data": k[2], "pack": k[3], **r}
                        for k, runs in results.items()
                        for r in runs
                    ],
                },
                indent=1,
            )
        )
    print(report(meta, results))
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
