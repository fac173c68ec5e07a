"""Axolotl's YAML config (examples/*.yml) as a recipe: base model, datasets, adapter, packing, trainer keys."""

from __future__ import annotations

from typing import Any

from . import shapes
from .draft import Draft, ft_names, ft_string
from .trainer_args import (
    TRAINING_ARGUMENTS,
    Handler,
    epochs,
    flag,
    micro_batch,
    not_needed,
    numeric,
    optimizer,
    quantized,
    schedule,
)

_PREFERENCE = {"dpo": "dpo", "ipo": "dpo", "orpo": "orpo", "simpo": "simpo", "kto": "kto"}
_CLASSES = "ftlang reads the model and tokenizer classes from the model's config"


def _adapter(d: Draft, key: str, value: Any) -> None:
    if value in ("lora", "qlora"):
        d.pending["adapter"] = True
        if value == "qlora":
            d.fields["model"]["quantize"] = "nf4"
            d.note(key, value, "method lora, model quantize = nf4: QLoRA is LoRA over a 4-bit NF4 base")
        else:
            d.note(key, value, "method lora (or `adapter = lora(…)` of a preference method)", changed=False)
    elif not value:
        d.note(key, value, "method full: every weight trains", changed=False)
    else:
        d.unsupported(key, value, "ftlang's adapters: lora, qlora")


def _linear(d: Draft, key: str, value: Any) -> None:
    if value is True:
        d.put(key, value, "lora.targets", "all_linear", "every linear layer")
    else:
        d.note(key, value, "the targets listed in lora_target_modules", changed=False)


def _tracker(name: str) -> Handler:
    def handle(d: Draft, key: str, value: Any) -> None:
        if value:
            d.pending.setdefault("trackers", []).append(name)
            d.note(key, value, f"train.track includes {name} (its project or experiment is the recipe's name)")
        else:
            d.note(key, value, "no tracker (ftlang's default)", changed=False)

    return handle


def _rl(d: Draft, key: str, value: Any) -> None:
    method = _PREFERENCE.get(str(value))
    if method is None:
        d.unsupported(key, value, f"ftlang's preference methods: {', '.join(sorted(set(_PREFERENCE.values())))}")
        return
    if value == "ipo":
        d.fields["method"]["loss"] = "ipo"
        d.note(key, value, "method dpo { loss = ipo }")
    else:
        d.note(key, value, f"method {method}", changed=False)


def _attention(d: Draft, key: str, value: Any) -> None:
    if value is True:
        d.put(key, value, "compute.attention", "auto", "flash-attention when it is installed on a GPU, else sdpa")
    else:
        d.note(key, value, "ftlang's `attention = auto`", changed=False)


def _train_on_inputs(d: Draft, key: str, value: Any) -> None:
    if value is True:
        d.put(key, value, "prompt.train_on", "all", "every turn trains (a chat prompt's setting)")
    else:
        d.note(key, value, "the loss covers the answers only (ftlang's default)", changed=False)


HANDLERS: dict[str, Handler] = {
    **TRAINING_ARGUMENTS,
    "base_model": shapes.model_source,
    "base_model_config": not_needed(_CLASSES),
    "model_type": not_needed(_CLASSES),
    "tokenizer_type": not_needed(_CLASSES),
    "tokenizer_config": not_needed(_CLASSES),
    "is_llama_derived_model": not_needed(_CLASSES),
    "strict": not_needed("ftlang always refuses unknown keys"),
    "load_in_8bit": quantized("int8"),
    "load_in_4bit": quantized("nf4"),
    "adapter": _adapter,
    "lora_r": numeric("lora.rank"),
    "lora_alpha": numeric("lora.alpha"),
    "lora_dropout": numeric("lora.dropout"),
    "lora_target_modules": shapes.lora_targets,
    "lora_target_linear": _linear,
    "lora_modules_to_save": lambda d, k, v: d.put(k, v, "lora.also_train", ft_names([str(x) for x in v])),
    "peft_use_dora": flag("lora.dora"),
    "peft_use_rslora": flag("lora.rslora"),
    "lora_fan_in_fan_out": not_needed("peft reads the layer layout from the model"),
    "lora_model_dir": not_needed("continuing from a trained adapter is not part of a recipe"),
    "val_set_size": shapes.eval_fraction,
    "dataset_prepared_path": not_needed("ftlang caches prepared data by content, in its own cache"),
    "sequence_len": numeric("train.max_len"),
    "sample_packing": flag("train.pack", None),
    "eval_sample_packing": not_needed("evaluation rows are never packed"),
    "pad_to_sequence_len": not_needed("ftlang pads a batch to its longest row, or packs"),
    "micro_batch_size": micro_batch,
    "num_epochs": epochs,
    "optimizer": optimizer,
    "lr_scheduler": schedule,
    "train_on_inputs": _train_on_inputs,
    "group_by_length": not_needed("ftlang batches rows in a seeded random order"),
    "early_stopping_patience": numeric("train.patience"),
    "evals_per_epoch": not_needed("ftlang counts evaluations in steps: set `train.eval_every`"),
    "saves_per_epoch": not_needed("ftlang counts checkpoints in steps: set `train.checkpoint_every`"),
    "flash_attention": _attention,
    "sdp_attention": lambda d, k, v: (
        d.put(k, v, "compute.attention", "sdpa") if v else d.note(k, v, "auto", changed=False)
    ),
    "xformers_attention": not_needed("ftlang's attention kernels: auto, sdpa, flex, flash, eager"),
    "wandb_project": _tracker("wandb"),
    "use_tensorboard": _tracker("tensorboard"),
    "mlflow_experiment_name": _tracker("mlflow"),
    "mlflow_tracking_uri": not_needed("MLflow reads MLFLOW_TRACKING_URI; the default store is in the run directory"),
    "wandb_entity": not_needed("W&B reads the entity from your login (WANDB_ENTITY)"),
    "wandb_watch": not_needed("ftlang logs scalars, not gradients"),
    "wandb_name": not_needed("the W&B run is named after the run directory"),
    "wandb_log_model": not_needed("the model stays in the run directory"),
    "chat_template": shapes.chat_template,
    "chat_template_jinja": lambda d, k, v: d.put(
        k, v, "prompt.template", ft_string(str(v)), "a jinja layout of its own"
    ),
    "eval_batch_size": not_needed("ftlang evaluates with the training micro-batch"),
    "unfrozen_parameters": not_needed("ftlang trains every weight (full) or adapters; `also_train` adds whole modules"),
    "plugins": not_needed("ftlang's kernels are a compute setting: `compute { kernels = liger }`"),
    "rl": _rl,
    "rl_beta": numeric("method.beta"),
    "dpo_beta": numeric("method.beta"),
    "orpo_alpha": numeric("method.lambda"),
    "special_tokens": not_needed("ftlang keeps the tokenizer's own special tokens"),
    "tokens": not_needed("ftlang keeps the tokenizer's own vocabulary"),
    "fsdp": not_needed("set `compute { processes = N, strategy = fsdp }`"),
    "fsdp_config": not_needed("set `compute { processes = N, strategy = fsdp }`"),
    "local_rank": not_needed("the launcher sets the rank (`ft run --nproc N`)"),
    "debug": not_needed("not a recipe setting"),
    "auto_resume_from_checkpoints": not_needed("resuming is a command: `ft run --resume RUNDIR`"),
    "eval_table_size": not_needed("the eval block's `samples` sets how many examples the report shows"),
    "save_safetensors": not_needed("ftlang always writes safetensors"),
}


def translate(config: dict[str, Any], d: Draft) -> str | None:
    """Fill `d` from the config; the preference method it names, if any."""
    preference = _PREFERENCE.get(str(config.get("rl")))
    for key, value in config.items():
        if value is None:
            d.note(key, "", "not set: ftlang's default", changed=False)
        elif key == "datasets":
            _datasets(d, value, preference)
        elif key == "revision_of_model":
            d.note(key, value, "the model's revision, in hf(…)", changed=False)
        elif key in HANDLERS:
            HANDLERS[key](d, key, value)
        else:
            d.unsupported(key, value, "not a key ftlang knows how to carry over")
    return preference


def _datasets(d: Draft, datasets: Any, preference: str | None) -> None:
    if not isinstance(datasets, list) or not datasets:
        d.unsupported("datasets", datasets, "expected a list of data sets")
        return
    for index, entry in enumerate(datasets):
        if index == 0 and isinstance(entry, dict):
            _dataset(d, entry, preference)
        else:
            d.unsupported(
                f"datasets[{index}]", entry, "this recipe trains on the first data set; declare the others by hand"
            )


def _dataset(d: Draft, entry: dict[str, Any], preference: str | None) -> None:
    kind = str(entry.get("type", "alpaca"))
    for key, value in entry.items():
        name = f"datasets[0].{key}"
        if key == "path":
            shapes.data_source(d, name, str(value), split=entry.get("split"), config=entry.get("name"))
        elif key in ("split", "name", "ds_type"):
            d.note(name, value, "part of the data source", changed=False)
        elif key == "type":
            _dataset_type(d, name, kind, entry, preference)
        elif key in ("field_messages", "message_property_mappings", "message_field_role", "message_field_content"):
            d.note(name, value, "the prompt's `messages` field and turn format", changed=False)
        elif key == "roles_to_train" and value == ["assistant"]:
            d.note(name, value, "the loss covers the assistant turns (ftlang's default)", changed=False)
        else:
            d.unsupported(name, value, "not a data set key ftlang knows how to carry over")


def _dataset_type(d: Draft, key: str, kind: str, entry: dict[str, Any], preference: str | None) -> None:
    if kind.startswith("alpaca"):
        shapes.alpaca_prompt(d, key, kind)
        d.fields["prompt"].setdefault("template", "alpaca")  # how Axolotl's alpaca type lays the turns out
    elif kind in ("chat_template", "sharegpt"):
        mapping = entry.get("message_property_mappings") or {}
        sharegpt = kind == "sharegpt" or mapping.get("role") == "from" or entry.get("message_field_role") == "from"
        default = "conversations" if kind == "sharegpt" else "messages"
        shapes.messages_prompt(d, key, kind, str(entry.get("field_messages", default)), sharegpt)
    elif "." in kind and preference == "kto":
        shapes.unpaired_prompt(d, key, kind)
    elif "." in kind:  # DPO types: chatml.intel (question), chatml.argilla (instruction), llama3.prompt_pairs (prompt)
        field = {"intel": "question", "argilla": "instruction"}.get(kind.partition(".")[2], "prompt")
        shapes.preference_prompt(d, key, kind, field)
    else:
        d.unsupported(key, kind, "ftlang's prompts: alpaca-style turns, chat messages, preference pairs")
