"""A TRL config (the YAML of `trl sft|dpo|kto|orpo --config FILE`: script, model, PEFT and trainer arguments)."""

from __future__ import annotations

from typing import Any

from . import shapes
from .draft import Draft
from .trainer_args import TRAINING_ARGUMENTS, Handler, choice, flag, not_needed, numeric, quantized

TRAINERS = ("sft", "dpo", "kto", "orpo")
_DPO_LOSSES = {"sigmoid": "sigmoid", "ipo": "ipo", "hinge": "hinge"}


def _use_peft(d: Draft, key: str, value: Any) -> None:
    d.pending["adapter"] = bool(value)
    d.note(key, value, "method lora (or `adapter = lora(…)`)" if value else "method full", changed=False)


_FLASH = "flash-attention when it is installed on a GPU, else sdpa"
_KERNELS = {"flash_attention_2": "auto", "sdpa": "sdpa", "eager": "eager", "flex_attention": "flex"}
_DTYPES = {"bfloat16": "bfloat16", "float16": "float16", "float32": "float32", "auto": "auto"}


def _only_assistant(d: Draft, key: str, value: Any) -> None:
    if value:
        d.note(key, value, "the loss covers the answers only (ftlang's default)", changed=False)
    else:
        d.put(key, value, "prompt.train_on", "all", "every turn trains (a chat prompt's setting)")


HANDLERS: dict[str, Handler] = {
    **TRAINING_ARGUMENTS,
    "model_name_or_path": lambda d, k, v: None,  # read with model_revision, below
    "model_revision": lambda d, k, v: d.note(k, v, "the model's revision, in hf(…)", changed=False),
    "torch_dtype": choice("model.dtype", _DTYPES, "dtypes"),
    "dtype": choice("model.dtype", _DTYPES, "dtypes"),
    "attn_implementation": choice("compute.attention", _KERNELS, "attention kernels", {"flash_attention_2": _FLASH}),
    "use_peft": _use_peft,
    "lora_r": numeric("lora.rank"),
    "lora_alpha": numeric("lora.alpha"),
    "lora_dropout": numeric("lora.dropout"),
    "lora_target_modules": shapes.lora_targets,
    "use_dora": flag("lora.dora"),
    "use_rslora": flag("lora.rslora"),
    "load_in_4bit": quantized("nf4"),
    "load_in_8bit": quantized("int8"),
    "bnb_4bit_quant_type": lambda d, k, v: d.note(k, v, "model.quantize = nf4", changed=v != "nf4"),
    "max_length": numeric("train.max_len"),
    "max_seq_length": numeric("train.max_len"),
    "packing": flag("train.pack"),
    "beta": numeric("method.beta"),
    "loss_type": choice("method.loss", _DPO_LOSSES, "dpo losses"),
    "completion_only_loss": _only_assistant,
    "assistant_only_loss": _only_assistant,
    "dataset_text_field": not_needed("a recipe's prompt says which fields become text"),
    "dataset_num_proc": not_needed("ftlang prepares the data before training, in its own processes"),
}


def translate(config: dict[str, Any], d: Draft, trainer: str) -> str | None:
    """Fill `d`; `trainer` is the TRL command the config was written for (sft, dpo, kto, orpo)."""
    if "model_name_or_path" in config:
        shapes.model_source(d, "model_name_or_path", config["model_name_or_path"], config.get("model_revision"))
    for key, value in config.items():
        if value is None:
            d.note(key, "", "not set: ftlang's default", changed=False)
        elif key == "dataset_name":
            split = config.get("dataset_train_split")
            shapes.data_source(d, key, str(value), split=split, config=config.get("dataset_config"))
            _prompt(d, trainer)
        elif key in ("dataset_config", "dataset_train_split"):
            d.note(key, value, "part of the data source", changed=False)
        elif key == "dataset_test_split":
            d.unsupported(key, value, "ftlang evaluates on a split of the training data: `split { … }` in `data`")
        elif key in HANDLERS:
            HANDLERS[key](d, key, value)
        else:
            d.unsupported(key, value, "not a key ftlang knows how to carry over")
    return None if trainer == "sft" else trainer


def _prompt(d: Draft, trainer: str) -> None:
    if trainer == "sft":
        shapes.messages_prompt(d, "dataset_name (columns)", "conversational", "messages", assumed=True)
    elif trainer == "kto":
        shapes.unpaired_prompt(d, "dataset_name (columns)", "unpaired", assumed=True)
    else:
        shapes.preference_prompt(d, "dataset_name (columns)", "preference", assumed=True)
