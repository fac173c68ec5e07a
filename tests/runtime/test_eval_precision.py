"""Evaluation runs in the precision the plan trains in: loss, class logits and generation."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ftlang.plan.models import ComputePlan, DataRef, EvalPlan, Generation, Metric
from ftlang.runtime.data.batching import singles
from ftlang.runtime.data.prompts import Renderer, plain_text
from ftlang.runtime.data.sources import load_data
from ftlang.runtime.evaluation.evaluate import class_logits, evaluation_precision, plan_evaluator
from ftlang.runtime.evaluation.generation import generate_texts
from ftlang.runtime.models import train_scratch_tokenizer
from ftlang.runtime.train.loop import loss_sum

from .factories import arithmetic, chat_plan

CPU = torch.device("cpu")


def _setup(precision: str):
    plan = chat_plan(Path("."), rows=arithmetic(12), train={"micro_batch": 4})
    plan = plan.model_copy(
        update={
            "compute": ComputePlan(precision=precision, device="cpu"),
            "eval": EvalPlan(on=DataRef(data="qa"), metrics=[Metric(name="loss")]),
        }
    )
    rows = load_data(plan.data[0], Path("."), plan.prompt.fields).rows("train")
    rendered = [Renderer(plan.prompt).render(r) for r in rows]
    tok = train_scratch_tokenizer([plain_text(r) for r in rendered], 200)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
    )
    model = LlamaForCausalLM(cfg).eval()
    evaluator = plan_evaluator(plan, plan.eval, model, tok, labels=None, max_len=48, device=CPU)
    return evaluator, model, tok, evaluator.prepare("qa", rendered)


def _dtypes_seen(model: LlamaForCausalLM) -> tuple[list[torch.dtype], torch.utils.hooks.RemovableHandle]:
    """The dtype of the first projection's output at each forward pass."""
    seen: list[torch.dtype] = []
    handle = model.model.layers[0].self_attn.q_proj.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    return seen, handle


def test_eval_loss_runs_under_the_plans_autocast():
    bf16, model, _, data = _setup("bf16")
    fp32 = _setup("fp32")[0]
    assert bf16.precision is not None and bf16.precision.autocast_dtype == torch.bfloat16
    seen, handle = _dtypes_seen(model)
    under_bf16 = bf16(model, data).metrics["loss"]
    assert set(seen) == {torch.bfloat16}
    seen.clear()
    under_fp32 = fp32(model, data).metrics["loss"]
    assert set(seen) == {torch.float32}
    handle.remove()
    # The reference: the same batches and loss, in torch's own bf16 autocast on the CPU.
    items, total, n = singles(data.examples), 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, len(items), bf16.batch_size):
            batch = bf16.collator(items[i : i + bf16.batch_size], packed=False)
            total += loss_sum(model, batch, "chat")[0].double().item()
            n += batch.n_targets
    assert under_bf16 == total / n
    assert under_bf16 != under_fp32


def test_generation_and_class_logits_run_under_it():
    evaluator, model, tok, data = _setup("bf16")
    prompts = [ex.input_ids[:6] for ex in data.examples[:3]]
    seen, handle = _dtypes_seen(model)
    settings = Generation(max_new_tokens=4)
    texts = generate_texts(
        model, tok, prompts, settings, max_len=48, batch_size=2, device=CPU, precision=evaluator.precision
    )
    assert seen and set(seen) == {torch.bfloat16}
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reference = generate_texts(model, tok, prompts, settings, max_len=48, batch_size=2, device=CPU)
    assert texts == reference
    seen.clear()
    class_logits(model, data.examples[:2], evaluator.collator, 2, CPU, evaluator.precision)
    assert set(seen) == {torch.bfloat16}
    handle.remove()


def test_a_run_in_a_precision_the_device_cannot_compute_in_is_evaluated_in_its_auto():
    """`ft eval` on a CPU of a run trained in fp16 on a GPU: float32, as `auto` is on a CPU, not
    the RunError `ft run` gives such a plan; a precision the CPU has stays the plan's."""
    plan = chat_plan(Path("."))
    fp16, bf16 = (plan.model_copy(update={"compute": ComputePlan(precision=p)}) for p in ("fp16", "bf16"))
    assert evaluation_precision(fp16, CPU).autocast_dtype is None
    assert evaluation_precision(bf16, CPU).autocast_dtype == torch.bfloat16
