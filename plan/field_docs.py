"""What each field and statement of a recipe means, in a sentence: shown on hover and in docs.

Types, ranges and defaults are not repeated here: they come from the Plan's schema. Keys are
the declaration keyword (`train`, `method`, …); `*` holds fields that mean the same anywhere.
"""

from __future__ import annotations

FIELD_DOCS: dict[str, dict[str, str]] = {
    "train": {
        "data": "the training rows: a data split such as `tickets.train`; several `data` statements mix sources",
        "epochs": "how many passes over the training rows; a fraction trains that share of one",
        "max_steps": "stop after this many optimizer steps, whatever `epochs` says",
        "lr": "the peak learning rate, reached after warm-up",
        "batch": "the global batch: examples per optimizer step, across every process",
        "micro_batch": "examples per forward pass; `batch / micro_batch` passes are accumulated into one step",
        "schedule": "how the learning rate moves: `constant`, `linear(warmup = 10%)` or `cosine(…)`",
        "weight_decay": "decoupled weight decay of AdamW",
        "grad_clip": "clip the global gradient norm to this value before each step",
        "max_len": "the longest sequence in tokens; longer examples are cut",
        "pack": "pack several short examples into one sequence, each attending only to itself",
        "seed": "the seed of data order, dropout and initialisation; same seed, same run",
        "eval_every": "evaluate on the eval split every this many steps, or at each `epoch`'s end",
        "checkpoint_every": "write a resumable checkpoint every this many steps",
        "log_every": "write a metrics line every this many steps",
        "patience": "stop after this many evaluations without improvement of `keep_best`'s metric",
        "keep_best": "an eval metric: keep the weights of the evaluation where it was best",
    },
    "compute": {
        "strategy": "how several processes share the model: `ddp` (a copy each) or `fsdp` (sharded)",
        "processes": "how many processes train together under torch.distributed",
        "precision": "the arithmetic of training: `fp32`, `bf16`, `fp16`, or `auto` for the device",
        "backend": "the torch.distributed backend: `gloo` (CPU), `nccl` (GPU) or `auto`",
        "deterministic": "on a GPU, deterministic kernels: two runs give the same bits (CPU runs always do)",
    },
    "model": {
        "trust_remote_code": "run Python code shipped with the model; off unless the recipe says so",
        "dtype": "the type of the weights as loaded",
    },
    "data": {
        "bad_rows": "what a row that cannot be read does: stop with an `error`, or `skip` it and count it",
    },
    "method": {
        "rank": "the rank of each LoRA adapter: its size and capacity",
        "alpha": "the LoRA scale numerator: updates are scaled by alpha / rank",
        "dropout": "dropout on the adapters' input during training",
        "targets": "the modules that get adapters; empty: the model family's defaults",
        "also_train": "whole modules trained beside the adapters (peft's modules_to_save)",
        "beta": "the strength of the pull towards the reference policy",
        "loss": "the preference loss: `sigmoid` (DPO), `ipo` or `hinge`",
        "label_smoothing": "the assumed share of flipped preference labels (conservative DPO)",
        "reference": "the reference policy: the `base` model live, or log-probs `precomputed` once",
        "adapter": "train LoRA adapters instead of every weight: `lora(rank = …)`",
        "group_size": "completions sampled per prompt; rewards are compared within the group",
        "clip": "the PPO clip range of the probability ratio",
        "max_new_tokens": "the longest completion sampled, in tokens",
        "temperature": "the sampling temperature of completions",
    },
    "eval": {
        "samples": "how many example generations the report shows",
    },
    "prompt": {
        "messages": "the data field holding each row's list of turns (a conversation of any length)",
        "format": "how a turn of `messages` is written: `openai` {role, content} or `sharegpt` {from, value}",
        "template": "how turns become text: `tokenizer`, a built-in (chatml, llama3, …) or a jinja string",
        "train_on": "which turns the loss covers: every `assistant` turn, the `last` one, or `all`",
        "labels": "the classes of a classification prompt, in the head's order",
    },
    "*": {},
}

STATEMENT_DOCS: dict[str, str] = {
    "where": "keep only the rows for which the expression is true, e.g. `where len(body) < 400`",
    "dedupe": "drop rows whose given fields repeat an earlier row's",
    "split": "divide the rows into named parts by a stable hash: `split { train = 80%, eval = 20% } seed 7`",
    "system": "a system turn of a chat prompt (a template)",
    "user": "a user turn of a chat prompt (a template)",
    "assistant": "an assistant turn of a chat prompt: the text the model learns",
    "input": "the model's input (a template)",
    "target": "the completion the model learns to write after `input`",
    "label": "the class of a row: the prompt becomes a classification task",
    "chosen": "the preferred answer of a preference pair",
    "rejected": "the dispreferred answer of a preference pair",
    "on": "the rows to evaluate on, e.g. `tickets.eval`, or several sets: `on [a.eval, b.eval]`",
    "roles": "maps the data's role names to chat roles: `roles { human = user, gpt = assistant }`",
    "data": "one source of a training mixture: `data chats.train weight 0.9`, `max_rows 5000` caps it",
    "metrics": "what to measure, e.g. `metrics [accuracy, loss]`",
    "compare": "also evaluate the untuned model: `compare base`",
    "guard": "a general-skill check that must not drop more than `max_drop`",
    "require": "a gate: the run fails (exit 3) unless the condition holds",
    "generate": "how answers are generated for text metrics",
    "reward": "one term of the GRPO reward; the reward is the weighted sum of its terms",
}
