"""A recipe built from another tool's config, and what became of each of the config's keys.

Every key lands in the report as mapped (carried over as is), changed (carried over in another
form, saying how) or unsupported (saying why); unsupported keys are also comments in the recipe.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MAPPED, CHANGED, UNSUPPORTED = "mapped", "mapped differently", "not supported"
_BLOCKS = ("model", "data", "prompt", "method", "train", "compute", "lora")


@dataclass(frozen=True)
class KeyReport:
    """One key of the imported config: its value, its fate, and where it went or why not."""

    key: str
    value: str
    status: str
    detail: str


@dataclass
class Draft:
    """The recipe under construction: block fields as ftlang text, plus the report of every key."""

    tool: str
    name: str
    model_source: str = ""
    data_source: str = ""
    method: str = "full"
    fields: dict[str, dict[str, str]] = field(default_factory=lambda: {b: {} for b in _BLOCKS})
    statements: dict[str, list[str]] = field(default_factory=lambda: {b: [] for b in _BLOCKS})
    lora: dict[str, str] = field(default_factory=dict)  # LoRA settings, a method block or an `adapter = lora(…)`
    eval_split: str | None = None
    report: list[KeyReport] = field(default_factory=list)
    # Values that only combine once every key is read (batch = micro × accumulation, schedule + warm-up).
    pending: dict[str, Any] = field(default_factory=dict)

    def put(self, key: str, value: Any, target: str, text: str, how: str | None = None) -> None:
        """`key` becomes `block.field = text` (`target` is `block.field`); `how` when the meaning changes."""
        block, _, name = target.partition(".")
        self.fields[block][name] = text
        shown = f"{target} = {text}"
        self.report.append(KeyReport(key, show(value), CHANGED if how else MAPPED, f"{shown}: {how}" if how else shown))

    def note(self, key: str, value: Any, detail: str, *, changed: bool = True) -> None:
        """A key carried over in a way `put` does not describe (several keys into one field, a source)."""
        self.report.append(KeyReport(key, show(value), CHANGED if changed else MAPPED, detail))

    def unsupported(self, key: str, value: Any, why: str) -> None:
        self.report.append(KeyReport(key, show(value), UNSUPPORTED, why))

    def withdraw(self, key: str, why: str) -> None:
        """A key mapped before the rest of the config showed it cannot apply: not supported after all."""
        for index, row in enumerate(self.report):
            if row.key == key:
                self.report[index] = KeyReport(key, row.value, UNSUPPORTED, why)

    def render(self) -> str:
        """The recipe's text (not yet in the canonical layout: `ft fmt`'s formatter does that)."""
        lines = [f"# Imported from the {self.tool} config `{self.name}` by `ft import`."]
        skipped = [r for r in self.report if r.status == UNSUPPORTED]
        if skipped:
            lines.append("# Not imported (ftlang has no equivalent, or another place for it):")
            lines += [f"#   {r.key}: {r.value} ({r.detail})" for r in skipped]
        lines += ["", f"recipe {identifier(self.name)}", ""]
        lines += [f"model base = {self.model_source}" + self._block("model"), ""]
        lines += [f"data train_data = {self.data_source}" + self._block("data"), ""]
        lines += ["prompt turns" + (self._block("prompt") or " {\n}"), ""]
        lines += [f"method {self.method}" + self._block("method"), ""]
        lines += ["train" + (self._block("train") or " {\n}"), ""]
        if self.fields["compute"]:
            lines += ["compute" + self._block("compute"), ""]
        if self.eval_split:
            lines += ["eval {", f"  on train_data.{self.eval_split}", "  metrics [loss]", "}", ""]
        return "\n".join(lines)

    def _block(self, block: str) -> str:
        entries = [*self.statements[block], *(f"{k} = {v}" for k, v in self.fields[block].items())]
        if not entries:
            return ""
        return " {\n" + "".join(f"  {e}\n" for e in entries) + "}"


def show(value: Any) -> str:
    """A config value as the table shows it: YAML-like, on one line."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def identifier(text: str) -> str:
    """A recipe name from a file name: `llama3_lora_sft.yaml` → `llama3_lora_sft`."""
    name = re.sub(r"\W+", "_", text.rsplit(".", 1)[0]).strip("_") or "imported"
    return name if not name[0].isdigit() else f"r_{name}"


def ft_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def ft_number(value: Any) -> str | None:
    """A YAML number (or a number YAML read as text, such as `2e-4`) as ftlang writes it; None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value) if re.search(r"[.eE]", value) else int(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if ("." in text or "e" in text) else f"{text}.0"
    return None


def ft_names(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]"


def ft_percent(fraction: float) -> str:
    return f"{round(fraction * 100, 6):g}%"
