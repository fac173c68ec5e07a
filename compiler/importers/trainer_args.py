"""Keys that Axolotl, LLaMA-Factory and TRL share (most are Hugging Face TrainingArguments), mapped once."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ftlang.plan.catalogue import SCHEDULES, TRACKERS

from .draft import Draft, ft_names, ft_number, show

Handler = Callable[[Draft, str, Any], None]

# Hugging Face / Axolotl optimizer names → ftlang's (catalogue.OPTIMIZERS).
OPTIMIZER_NAMES = {
    "adamw_torch": "adamw",
    "adamw_torch_fused": "adamw",
    "adamw_hf": "adamw",
    "adamw": "adamw",
    "adamw_bnb_8bit": "adamw_8bit",
    "adamw_8bit": "adamw_8bit",
    "paged_adamw_8bit": "paged_adamw_8bit",
    "adafactor": "adafactor",
    "sgd": "sgd",
}
# Scheduler names → ftlang's schedule (catalogue.SCHEDULES); warm-up is a setting of each.
SCHEDULE_NAMES = {
    "cosine": "cosine",
    "linear": "linear",
    "constant": "constant",
    "constant_with_warmup": "constant",
    "cosine_with_restarts": "cosine",
    "cosine_with_min_lr": "cosine",
}
_SCHEDULE_CHANGES = {
    "constant_with_warmup": ": warm-up is a setting of ftlang's `constant`",
    "cosine_with_restarts": ": the nearest, one cosine decay without restarts",
    "cosine_with_min_lr": ": the nearest, a cosine decay to 0",
}


def numeric(target: str, how: str | None = None) -> Handler:
    """A numeric key that becomes the field `target`."""

    def handle(d: Draft, key: str, value: Any) -> None:
        text = ft_number(value)
        if text is None:
            d.unsupported(key, value, f"expected a number, found {show(value)}")
        else:
            d.put(key, value, target, text, how)

    return handle


def flag(target: str, how: str | None = None) -> Handler:
    def handle(d: Draft, key: str, value: Any) -> None:
        if isinstance(value, bool):
            d.put(key, value, target, "true" if value else "false", how)
        else:
            d.unsupported(key, value, "expected true or false")

    return handle


def not_needed(why: str) -> Handler:
    """A key with no counterpart, for the reason given (a command-line option, a default of ftlang…)."""

    def handle(d: Draft, key: str, value: Any) -> None:
        d.unsupported(key, value, why)

    return handle


def epochs(d: Draft, key: str, value: Any) -> None:
    text = ft_number(value)
    if text is None or float(text) <= 0:
        d.unsupported(key, value, "expected a positive number")
    elif float(text) == int(float(text)):
        d.put(key, value, "train.epochs", str(int(float(text))))
    else:
        whole = math.ceil(float(text))
        d.put(key, value, "train.epochs", str(whole), "ftlang trains whole epochs (set `max_steps` to stop earlier)")


def micro_batch(d: Draft, key: str, value: Any) -> None:
    d.pending["micro_batch"] = (key, value)


def accumulation(d: Draft, key: str, value: Any) -> None:
    d.pending["accumulation"] = (key, value)


def schedule(d: Draft, key: str, value: Any) -> None:
    if str(value) in SCHEDULE_NAMES:
        d.pending["schedule"] = (key, value)
    else:
        d.unsupported(key, value, f"ftlang's schedules: {', '.join(SCHEDULES)}")


def warmup_steps(d: Draft, key: str, value: Any) -> None:
    if ft_number(value) is None:
        d.unsupported(key, value, "expected a number of steps")
    elif int(float(str(value))) > 0:
        d.pending["warmup"] = (key, value, str(int(float(str(value)))))
    else:
        d.note(key, value, "no warm-up (ftlang's default)", changed=False)


def warmup_ratio(d: Draft, key: str, value: Any) -> None:
    text = ft_number(value)
    if text is None or not 0 <= float(text) < 1:
        d.unsupported(key, value, "expected a fraction of all steps")
    elif float(text) > 0:
        d.pending["warmup"] = (key, value, f"{round(float(text) * 100, 6):g}%")
    else:
        d.note(key, value, "no warm-up (ftlang's default)", changed=False)


def choice(target: str, names: Mapping[str, str], what: str, hows: Mapping[str, str] | None = None) -> Handler:
    """A named value that becomes `target` under ftlang's name for it (`names`); `hows` for a changed meaning."""

    def handle(d: Draft, key: str, value: Any) -> None:
        name = names.get(str(value))
        if name is None:
            d.unsupported(key, value, f"ftlang's {what}: {', '.join(dict.fromkeys(names.values()))}")
        else:
            renamed = None if name == str(value) else f"ftlang's name for `{value}`"
            d.put(key, value, target, name, (hows or {}).get(str(value), renamed))

    return handle


def quantized(bits: str) -> Handler:
    """`load_in_4bit: true`: the base model loads quantized."""

    def handle(d: Draft, key: str, value: Any) -> None:
        if value is True:
            d.put(key, value, "model.quantize", bits)
        else:
            d.note(key, value, "the base loads unquantized (ftlang's default)", changed=False)

    return handle


optimizer = choice("train.optimizer", OPTIMIZER_NAMES, "optimizers")


def precision(kind: str) -> Handler:
    """`bf16: true` / `fp16: true`: mixed precision in `compute`; false leaves ftlang's `auto`."""

    def handle(d: Draft, key: str, value: Any) -> None:
        if value is True or value == "auto":
            how = "`auto` in the config: bf16 where the GPU has it" if value == "auto" else None
            d.put(key, value, "compute.precision", kind, how)
        elif value is False:
            d.note(key, value, "not set: ftlang's `precision = auto` (bf16 on a GPU that has it, fp32 on a CPU)")
        else:
            d.unsupported(key, value, "expected true, false or auto")

    return handle


def report_to(d: Draft, key: str, value: Any) -> None:
    """`report_to: wandb` (or a list): the trackers ftlang has; `none` turns them off."""
    names = value if isinstance(value, list) else [value]
    names = [str(n) for n in names if str(n) not in ("none", "None", "")]
    if names == ["all"]:
        names = list(TRACKERS)
    known = [n for n in names if n in TRACKERS]
    if not names:
        d.note(key, value, "no trackers (ftlang's default)", changed=False)
    elif known:
        other = sorted(set(names) - set(known))
        how = f"ftlang has no tracker {', '.join(other)}" if other else None
        d.put(key, value, "train.track", ft_names(known), how)
    else:
        d.unsupported(key, value, f"ftlang's trackers: {', '.join(TRACKERS)}")


def liger_kernels(d: Draft, key: str, value: Any) -> None:
    d.put(key, value, "compute.kernels", "liger" if value else "none")


def finish_batch_and_schedule(d: Draft) -> None:
    """The keys that combine: micro-batch × accumulation → batch; scheduler and warm-up → schedule."""
    micro = d.pending.pop("micro_batch", None)
    accumulation_key = d.pending.pop("accumulation", None)
    size = int(ft_number(micro[1]) or 1) if micro else 1
    steps = int(ft_number(accumulation_key[1]) or 1) if accumulation_key else 1
    if micro:
        d.put(micro[0], micro[1], "train.micro_batch", str(size))
    d.fields["train"]["batch"] = str(size * steps)
    if accumulation_key:
        d.note(
            accumulation_key[0],
            accumulation_key[1],
            f"train.batch = {size * steps}: ftlang's batch is the global batch of a step, "
            f"micro_batch × accumulation steps (× processes)",
        )
    scheduled, warmup = d.pending.pop("schedule", None), d.pending.pop("warmup", None)
    if scheduled is None and warmup is None:
        return
    kind = SCHEDULE_NAMES[str(scheduled[1])] if scheduled else "linear"
    text = f"{kind}(warmup = {warmup[2]})" if warmup else kind
    d.fields["train"]["schedule"] = text
    if scheduled:
        how = _SCHEDULE_CHANGES.get(str(scheduled[1]), "")
        d.note(scheduled[0], scheduled[1], f"train.schedule = {text}{how}", changed=bool(how))
    if warmup:
        default = "" if scheduled else " (the Hugging Face default schedule, linear)"
        d.note(warmup[0], warmup[1], f"train.schedule = {text}: warm-up is a setting of the schedule{default}")


# TrainingArguments keys, with the same meaning in the three tools.
TRAINING_ARGUMENTS: dict[str, Handler] = {
    "learning_rate": numeric("train.lr"),
    "num_train_epochs": epochs,
    "max_steps": numeric("train.max_steps"),
    "per_device_train_batch_size": micro_batch,
    "gradient_accumulation_steps": accumulation,
    "lr_scheduler_type": schedule,
    "warmup_steps": warmup_steps,
    "warmup_ratio": warmup_ratio,
    "weight_decay": numeric("train.weight_decay"),
    "max_grad_norm": numeric("train.grad_clip"),
    "seed": numeric("train.seed"),
    "logging_steps": numeric("train.log_every"),
    "save_steps": numeric("train.checkpoint_every"),
    "eval_steps": numeric("train.eval_every"),
    "gradient_checkpointing": flag("train.gradient_checkpointing"),
    "optim": optimizer,
    "bf16": precision("bf16"),
    "fp16": precision("fp16"),
    "tf32": flag("compute.tf32"),
    "torch_compile": flag("compute.compile"),
    "use_liger_kernel": liger_kernels,
    "neftune_noise_alpha": not_needed("ftlang adds no noise to the embeddings"),
    "report_to": report_to,
    "trust_remote_code": flag("model.trust_remote_code"),
    "output_dir": not_needed("the run directory is a command-line choice: `ft run --out DIR`"),
    "overwrite_output_dir": not_needed("`ft run` never writes into an existing run directory"),
    "resume_from_checkpoint": not_needed("resuming is a command: `ft run --resume RUNDIR`"),
    "do_train": not_needed("`ft run` trains; there is no separate switch"),
    "per_device_eval_batch_size": not_needed("ftlang evaluates with the training micro-batch"),
    "eval_strategy": not_needed("ftlang evaluates when `eval_every` says, and at the end"),
    "evaluation_strategy": not_needed("ftlang evaluates when `eval_every` says, and at the end"),
    "save_strategy": not_needed("ftlang checkpoints when `checkpoint_every` says, and at the end"),
    "logging_strategy": not_needed("ftlang logs every `log_every` steps"),
    "save_total_limit": not_needed("ftlang keeps the last checkpoint (and the best one with `keep_best`)"),
    "save_only_model": not_needed("a checkpoint holds what resuming needs; the model is written apart"),
    "dataloader_num_workers": not_needed("ftlang prepares the data before training, in its own processes"),
    "preprocessing_num_workers": not_needed("ftlang prepares the data before training, in its own processes"),
    "ddp_timeout": not_needed("not a setting of ftlang's distributed runs"),
    "deepspeed": not_needed("ftlang runs on torch.distributed: `compute { strategy = fsdp }`"),
    "push_to_hub": not_needed("ftlang writes the model to the run directory; publishing is a separate step"),
    "hub_model_id": not_needed("ftlang writes the model to the run directory; publishing is a separate step"),
    "plot_loss": not_needed("the run report plots the loss"),
}
