"""`ft import`: a recipe from an Axolotl, LLaMA-Factory or TRL config, and the fate of every key of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import axolotl, llamafactory, trl
from .draft import Draft, KeyReport, ft_names
from .shapes import finish_method, finish_prompt
from .trainer_args import finish_batch_and_schedule

TOOLS = ("axolotl", "llamafactory", "trl")
TRL_TRAINERS = trl.TRAINERS


class ImportFailure(Exception):
    """The config cannot become a recipe at all (not YAML, no base model, no data set)."""


@dataclass(frozen=True)
class Imported:
    recipe: str  # in ft fmt's canonical layout
    report: list[KeyReport]


def import_config(tool: str, path: Path, trainer: str = "sft") -> Imported:
    """The recipe for `path`, a config of `tool`; `trainer` is the TRL command a TRL config is for."""
    config = _read(path)
    draft = Draft(tool, path.name)
    if tool == "axolotl":
        preference = axolotl.translate(config, draft)
    elif tool == "llamafactory":
        preference = llamafactory.translate(config, draft, path.parent)
    else:
        preference = trl.translate(config, draft, trainer)
    _finish(draft, preference)
    return Imported(_formatted(draft), draft.report)


def _read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailure(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ImportFailure(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(config, dict):
        raise ImportFailure(f"{path} does not hold a mapping of keys to values")
    return config


def _finish(draft: Draft, preference: str | None) -> None:
    finish_batch_and_schedule(draft)
    finish_method(draft, preference)
    finish_prompt(draft)
    trackers = draft.pending.pop("trackers", [])
    if trackers and "track" not in draft.fields["train"]:
        draft.fields["train"]["track"] = ft_names(list(dict.fromkeys(trackers)))
    if not draft.model_source:
        raise ImportFailure(f"the {draft.tool} config names no base model, which a recipe needs")
    if not draft.data_source:
        raise ImportFailure(f"the {draft.tool} config names no data set, which a recipe needs")


def _formatted(draft: Draft) -> str:
    from ftlang.compiler.format import format_source

    text = draft.render()
    result = format_source(text, f"{draft.name}.ft")
    if result.text is None:  # the importer wrote text the parser refuses: a bug of ours
        raise AssertionError(f"ft import wrote an unparsable recipe:\n{text}\n{result.diagnostics}")
    return result.text
