"""LLaMA-Factory's YAML config (examples/train_lora/*.yaml) as a recipe; datasets resolved through dataset_info.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import shapes
from .draft import Draft, ft_names
from .trainer_args import TRAINING_ARGUMENTS, Handler, choice, flag, liger_kernels, not_needed, numeric

_STAGES = {"sft": None, "dpo": "dpo", "kto": "kto"}
_PREFERENCE_LOSS = {"sigmoid": ("dpo", None), "ipo": ("dpo", "ipo"), "hinge": ("dpo", "hinge"), "orpo": ("orpo", None)}
_PREFERENCE_LOSS["simpo"] = ("simpo", None)


def _stage(d: Draft, key: str, value: Any) -> None:
    if value not in _STAGES:
        d.unsupported(
            key, value, "ftlang's stages: sft, dpo, kto (pre-training, reward models and PPO are not methods)"
        )
        return
    d.pending["stage"] = _STAGES[value]
    d.note(key, value, f"method {_STAGES[value] or 'lora or full, by finetuning_type'}", changed=False)


def _finetuning_type(d: Draft, key: str, value: Any) -> None:
    if value == "lora":
        d.pending["adapter"] = True
        d.note(key, value, "method lora (or `adapter = lora(…)` of a preference method)", changed=False)
    elif value == "full":
        d.note(key, value, "method full", changed=False)
    else:
        d.unsupported(key, value, "ftlang trains every weight (full) or LoRA adapters; freezing layers is not a method")


def _pref_loss(d: Draft, key: str, value: Any) -> None:
    found = _PREFERENCE_LOSS.get(str(value))
    if found is None:
        d.unsupported(key, value, "ftlang's preference losses: sigmoid, ipo, hinge (dpo), orpo, simpo")
        return
    method, loss = found
    d.pending["loss_method"] = method
    if loss:
        d.fields["method"]["loss"] = loss
    d.note(key, value, f"method {method}" + (f" {{ loss = {loss} }}" if loss else ""), changed=method != "dpo")


def _quantization_bit(d: Draft, key: str, value: Any) -> None:
    bits = {4: "nf4", 8: "int8"}.get(value)
    if bits:
        d.put(key, value, "model.quantize", bits, "bitsandbytes 4-bit NF4" if bits == "nf4" else None)
    else:
        d.unsupported(key, value, "ftlang quantizes the base to 4 (nf4) or 8 bits")


def _no_checkpointing(d: Draft, key: str, value: Any) -> None:
    d.put(key, value, "train.gradient_checkpointing", "false" if value else "true", "the opposite switch")


HANDLERS: dict[str, Handler] = {
    **TRAINING_ARGUMENTS,
    "model_name_or_path": shapes.model_source,
    "stage": _stage,
    "finetuning_type": _finetuning_type,
    "lora_rank": numeric("lora.rank"),
    "lora_alpha": numeric("lora.alpha"),
    "lora_dropout": numeric("lora.dropout"),
    "lora_target": shapes.lora_targets,
    "additional_target": lambda d, k, v: d.put(k, v, "lora.also_train", ft_names(str(v).split(","))),
    "use_dora": flag("lora.dora"),
    "use_rslora": flag("lora.rslora"),
    "pref_beta": numeric("method.beta"),
    "pref_loss": _pref_loss,
    "quantization_bit": _quantization_bit,
    "quantization_method": not_needed("ftlang quantizes through bitsandbytes"),
    "template": shapes.chat_template,
    "cutoff_len": numeric("train.max_len"),
    "packing": flag("train.pack"),
    "neat_packing": flag("train.pack", "ftlang's packing always keeps packed rows from attending to each other"),
    "val_size": shapes.eval_fraction,
    "max_samples": not_needed("ftlang trains on every row that passes `where`; sample the file to train on fewer"),
    "overwrite_cache": not_needed("ftlang's data cache is keyed by content: a change is never stale"),
    "flash_attn": choice(
        "compute.attention",
        {"fa2": "auto", "sdpa": "sdpa", "disabled": "eager", "auto": "auto"},
        "attention kernels",
        {"fa2": "flash-attention when it is installed on a GPU, else sdpa"},
    ),
    "enable_liger_kernel": liger_kernels,
    "disable_gradient_checkpointing": _no_checkpointing,
    "train_on_prompt": lambda d, k, v: (
        d.put(k, v, "prompt.train_on", "all", "every turn trains")
        if v
        else d.note(k, v, "the loss covers the answers only (ftlang's default)", changed=False)
    ),
    "use_unsloth": not_needed("ftlang's speed levers are `compute` settings (attention, kernels, compile)"),
}


def translate(config: dict[str, Any], d: Draft, where: Path) -> str | None:
    """Fill `d` from the config (dataset names are looked up in the dataset_info.json beside it)."""
    for key, value in config.items():
        if value is None:
            d.note(key, "", "not set: ftlang's default", changed=False)
        elif key == "dataset":
            _dataset(d, key, value, config, where)
        elif key == "dataset_dir":
            d.note(key, value, "where the data set names are looked up", changed=False)
        elif key in HANDLERS:
            HANDLERS[key](d, key, value)
        else:
            d.unsupported(key, value, "not a key ftlang knows how to carry over")
    stage: str | None = d.pending.pop("stage", None)
    loss_method: str | None = d.pending.pop("loss_method", None)
    return (loss_method or stage) if stage else None


def _dataset(d: Draft, key: str, value: Any, config: dict[str, Any], where: Path) -> None:
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    folder = where / str(config.get("dataset_dir", "data"))
    info_file = folder / "dataset_info.json"
    infos = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    info = infos.get(names[0], {}) if names else {}
    if not names:
        d.unsupported(key, value, "no data set named")
        return
    if "hf_hub_url" in info:
        url = info["hf_hub_url"]
        shapes.data_source(d, key, url, split=info.get("split"), config=info.get("subset"), written=value)
    else:
        relative = Path(str(config.get("dataset_dir", "data"))) / info.get("file_name", f"{names[0]}.json")
        shapes.data_source(d, key, str(relative), written=value)
    columns = info.get("columns", {})
    if info.get("ranking") or d.pending.get("stage") == "dpo":
        shapes.preference_prompt(d, f"{key} (columns)", columns or "ranking", columns.get("prompt", "instruction"))
    elif info.get("formatting") == "sharegpt":
        tags = info.get("tags", {})
        sharegpt = tags.get("role_tag", "from") == "from"
        shapes.messages_prompt(d, f"{key} (formatting)", "sharegpt", columns.get("messages", "conversations"), sharegpt)
    elif d.pending.get("stage") == "kto":
        shapes.unpaired_prompt(d, f"{key} (columns)", columns or "kto")
    else:
        shapes.alpaca_prompt(d, f"{key} (formatting)", info.get("formatting", "alpaca"))
    for index, extra in enumerate(names[1:], start=1):
        d.unsupported(f"{key}[{index}]", extra, "this recipe trains on the first data set; declare the others by hand")
