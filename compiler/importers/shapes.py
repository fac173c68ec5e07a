"""The parts the three importers build alike: the model and data sources, the prompt shapes, the method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftlang.plan.catalogue import CHAT_TEMPLATES

from .draft import Draft, ft_names, ft_number, ft_string

_FILE_KINDS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
# Chat layouts of the tools, by their names → ftlang's (catalogue.CHAT_TEMPLATES).
TEMPLATE_NAMES = {
    "chatml": "chatml",
    "qwen": "chatml",
    "qwen2": "chatml",
    "qwen2_5": "chatml",
    "qwen3": "chatml",
    "llama3": "llama3",
    "llama3_2": "llama3",
    "mistral": "mistral",
    "gemma": "gemma",
    "alpaca": "alpaca",
    "tokenizer_default": "tokenizer",
    "empty": "plain",
}
ALPACA_USER = "{{ instruction }}{% if input %}\\n\\n{{ input }}{% endif %}"


def model_source(d: Draft, key: str, value: Any, revision: str | None = None) -> None:
    """A hub id, or a local folder when the name is a path that exists (or looks like one)."""
    name = str(value)
    if name.startswith(("/", "./", "../", "~")) or Path(name).is_dir():
        d.model_source = f"local({ft_string(name)})"
    else:
        extra = f", revision = {ft_string(revision)}" if revision else ""
        d.model_source = f"hf({ft_string(name)}{extra})"
    d.note(key, value, f"model base = {d.model_source}", changed=False)


def data_source(
    d: Draft, key: str, path: str, *, split: str | None = None, config: str | None = None, written: Any = None
) -> None:
    """A local file by its extension, or a hub dataset; a JSON array file is named as the JSON Lines it must become.

    `written`: the key's value as the config has it, when `path` was looked up from it.
    """
    shown = path if written is None else written
    suffix = Path(path).suffix.lower()
    if suffix in _FILE_KINDS:
        d.data_source = f"{_FILE_KINDS[suffix]}({ft_string(path)})"
        d.note(key, shown, f"data train_data = {d.data_source}", changed=False)
    elif suffix == ".json":
        lines = str(Path(path).with_suffix(".jsonl"))
        d.data_source = f"jsonl({ft_string(lines)})"
        d.note(
            key,
            shown,
            f"data train_data = {d.data_source}: ftlang reads JSON Lines; convert with `jq -c '.[]' {path} > {lines}`",
        )
    else:
        arguments = [ft_string(path)]
        arguments += [f"config = {ft_string(config)}"] if config else []
        arguments += [f"split = {ft_string(split)}"] if split else []
        d.data_source = f"hf({', '.join(arguments)})"
        d.note(key, shown, f"data train_data = {d.data_source}", changed=False)


def eval_fraction(d: Draft, key: str, value: Any) -> None:
    """`val_set_size: 0.05`: a split of the data, and an eval block measuring the loss on it."""
    text = ft_number(value)
    fraction = float(text) if text is not None else -1.0
    if not 0 <= fraction < 1:
        d.unsupported(key, value, "ftlang splits by fractions of the rows: expected a number below 1")
        return
    if fraction == 0:
        d.note(key, value, "no eval split (ftlang's default)", changed=False)
        return
    train = round((1 - fraction) * 100, 6)
    d.statements["data"].append(f"split {{ train = {train:g}%, eval = {round(fraction * 100, 6):g}% }}")
    d.eval_split = "eval"
    d.note(key, value, f"data split {{ train = {train:g}%, eval = {round(fraction * 100, 6):g}% }}, eval on it (loss)")


def alpaca_prompt(d: Draft, key: str, value: Any) -> None:
    d.statements["prompt"] += [f'user "{ALPACA_USER}"', 'assistant "{{ output }}"']
    d.note(key, value, "prompt: user = instruction (+ input), assistant = output", changed=False)


_ASSUMED = ": assumed (the tool reads the columns itself); edit the prompt if the data set's differ"


def messages_prompt(
    d: Draft, key: str, value: Any, field: str = "messages", sharegpt: bool = False, assumed: bool = False
) -> None:
    d.fields["prompt"]["messages"] = field
    if sharegpt:
        d.fields["prompt"]["format"] = "sharegpt"
    layout = "sharegpt {from, value}" if sharegpt else "openai {role, content}"
    d.note(key, value, f"prompt: messages = {field} ({layout} turns)" + _ASSUMED * assumed, changed=assumed)


def preference_prompt(d: Draft, key: str, value: Any, prompt_field: str = "prompt", assumed: bool = False) -> None:
    d.statements["prompt"] += [
        f'input "{{{{ {prompt_field} }}}}"',
        'chosen "{{ chosen }}"',
        'rejected "{{ rejected }}"',
    ]
    d.note(key, value, f"prompt: input = {prompt_field}, chosen, rejected (text fields)" + _ASSUMED * assumed)


def unpaired_prompt(d: Draft, key: str, value: Any, assumed: bool = False) -> None:
    d.statements["prompt"] += ['input "{{ prompt }}"', 'completion "{{ completion }}"', 'desirable "{{ label }}"']
    d.note(key, value, "prompt: input = prompt, completion, desirable = label (text fields)" + _ASSUMED * assumed)


def chat_template(d: Draft, key: str, value: Any) -> None:
    name = TEMPLATE_NAMES.get(str(value))
    if name is None or name not in CHAT_TEMPLATES:
        d.unsupported(key, value, f"ftlang's chat layouts: {', '.join(CHAT_TEMPLATES)} (or a jinja string)")
        return
    d.put(key, value, "prompt.template", name, None if name == value else f"ftlang's name for `{value}`")
    d.pending["template_key"] = key


def lora_targets(d: Draft, key: str, value: Any) -> None:
    if value in ("all", "all-linear", "all_linear", True):
        d.put(key, value, "lora.targets", "all_linear", None if value == "all_linear" else "every linear layer")
    elif isinstance(value, str | list):
        names = value.split(",") if isinstance(value, str) else [str(v) for v in value]
        d.put(key, value, "lora.targets", ft_names([n.strip() for n in names if n.strip()]))
    else:
        d.unsupported(key, value, "expected module names")


def finish_prompt(d: Draft) -> None:
    """A chat layout applies to chat turns; a prompt of preference pairs or single completions has none."""
    key = d.pending.pop("template_key", None)
    chat = "messages" in d.fields["prompt"] or any(s.startswith("user ") for s in d.statements["prompt"])
    if key and not chat:
        d.fields["prompt"].pop("template", None)
        d.withdraw(key, "a chat layout applies to chat turns; this recipe's prompt is written as is")


def finish_method(d: Draft, preference: str | None) -> None:
    """`method lora { … }`, or a preference method whose LoRA settings are its `adapter = lora(…)`."""
    lora = d.fields.pop("lora", {})
    if preference:
        d.method = preference
        if d.pending.pop("adapter", False):
            d.fields["method"]["adapter"] = "lora(" + ", ".join(f"{k} = {v}" for k, v in lora.items()) + ")"
    elif d.pending.pop("adapter", False):
        d.method = "lora"
        d.fields["method"] = {**lora, **d.fields["method"]}
    d.fields["lora"] = {}
