"""The declarations a recipe is made of: the keyword that starts each, declared once.

The grammar (grammar/ftlang.lark) spells the same keywords in its rules; a test keeps the two
equal. The parser's error messages, the checker and `--set` read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeclarationSpec:
    """One top-level declaration: how it is written and how often a recipe may hold it."""

    keyword: str
    form: str  # how it is written, shown when a declaration's head is malformed
    summary: str
    once: bool  # a recipe holds at most one
    settable: bool  # a block whose fields `--set block.field=value` may change


DECLARATIONS: dict[str, DeclarationSpec] = {
    spec.keyword: spec
    for spec in (
        DeclarationSpec(
            "recipe", 'recipe support_reply "what it is for"', "the recipe's name and purpose", True, False
        ),
        DeclarationSpec("import", 'import "lib/lora.ft" as house', "declarations of another file", False, False),
        DeclarationSpec("param", "param lr: float = 2e-4", "a typed value the command line may set", False, False),
        DeclarationSpec("model", 'model base = hf("Qwen/Qwen2.5-0.5B-Instruct")', "the model to tune", True, True),
        DeclarationSpec(
            "data", 'data tickets = jsonl("data/tickets.jsonl") { … }', "rows, filters and splits", False, False
        ),
        DeclarationSpec("prompt", "prompt reply { … }", "how a row becomes a prompt", True, True),
        DeclarationSpec("method", "method lora { … }", "how the model is tuned", True, True),
        DeclarationSpec("train", "train { … }", "the training loop", True, True),
        DeclarationSpec("eval", "eval { … }", "metrics, base comparison, guards and gates", True, True),
        DeclarationSpec("sweep", "sweep { … }", "a grid of variants and the metric that ranks them", True, False),
        DeclarationSpec("compute", "compute { … }", "processes, strategy and precision", True, True),
    )
}
