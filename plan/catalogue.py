"""The catalogue: every name the language knows, declared once.

Methods, metrics, data and model sources, filter functions, schedules and optimizers live
here with what the checker, the runtime, the CLI and the docs need to know of them. Adding
one is one entry here plus its implementation. This module is plain Python (no pydantic,
no torch) so that `ft check` can read it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The shapes a prompt can take; each follows from the turns a prompt declares.
PROMPT_SHAPES = ("chat", "completion", "classification", "preference", "generation")


@dataclass(frozen=True)
class MethodSpec:
    """A training method: the Plan model of its fields and the prompt shapes it learns from."""

    name: str
    plan_model: str  # the pydantic model in plan/models.py (and $defs of plan.schema.json)
    shapes: tuple[str, ...]
    summary: str
    model_kind: str = "causal_lm"  # "causal_lm", or "classifier" for a classification prompt
    reference_free: bool = True
    nested_fields: frozenset[str] = frozenset()  # fields read by their own checks, not as plain values


@dataclass(frozen=True)
class MetricSpec:
    """An evaluation metric: the prompt shapes it applies to and which direction is better."""

    name: str
    shapes: tuple[str, ...]
    summary: str
    source: str  # "loss", "labels", "text" (generated) or "preference" (measured by the method)
    higher_is_better: bool | None = True  # None: reported, never ranked (no better direction)
    argument: str | None = None  # what `metric(…)` takes, e.g. a pattern

    @property
    def rankable(self) -> bool:
        return self.higher_is_better is not None


@dataclass(frozen=True)
class SourceSpec:
    """A data or model source: `kind(positional…, keyword = …)` in a recipe."""

    name: str
    positional: tuple[str, ...]
    keywords: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class FunctionSpec:
    """A function of `where` expressions: its argument types and its result type."""

    name: str
    arguments: tuple[str, ...]  # "text", "number", "list", "bool" or "any"
    result: str
    summary: str


@dataclass(frozen=True)
class OptionSpec:
    """A named choice with a summary: schedules, optimizers and the like."""

    name: str
    summary: str
    requires: tuple[str, ...] = field(default=())  # Python distributions it needs


_TEXT = ("chat", "completion")
_REFERENCE_TEXT = (*_TEXT, "generation")

METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("full", "FullMethod", ("chat", "completion", "classification"), "train every weight of the model"),
        MethodSpec(
            "lora",
            "LoraMethod",
            ("chat", "completion", "classification"),
            "train low-rank adapters beside frozen weights (peft)",
        ),
        MethodSpec(
            "dpo",
            "DpoMethod",
            ("preference",),
            "direct preference optimisation on chosen/rejected pairs (sigmoid, IPO or hinge loss)",
            reference_free=False,
            nested_fields=frozenset({"adapter"}),
        ),
        MethodSpec(
            "grpo",
            "GrpoMethod",
            ("generation",),
            "group relative policy optimisation: sample, reward, update",
            reference_free=False,
            nested_fields=frozenset({"adapter", "rewards"}),
        ),
    )
}

METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("loss", (*_TEXT, "classification", "preference"), "mean loss on the eval rows", "loss", False),
        MetricSpec("perplexity", (*_TEXT, "classification"), "exp(mean loss)", "loss", False),
        MetricSpec("accuracy", ("classification",), "share of rows whose predicted label is right", "labels"),
        MetricSpec("macro_f1", ("classification",), "unweighted mean F1 over classes (scikit-learn)", "labels"),
        MetricSpec("exact_match", _TEXT, "share of answers equal to the reference, whitespace stripped", "text"),
        MetricSpec(
            "contains", _REFERENCE_TEXT, "share of answers that contain a text", "text", argument="a text to find"
        ),
        MetricSpec(
            "regex", _REFERENCE_TEXT, "share of answers a regular expression matches", "text", argument="a pattern"
        ),
        MetricSpec("rouge_l", _TEXT, "ROUGE-L F1 against the reference (rouge-score)", "text"),
        MetricSpec("bleu", _TEXT, "corpus BLEU against the references (sacrebleu), 0–100", "text"),
        MetricSpec("json_valid", _REFERENCE_TEXT, "share of answers that parse as JSON", "text"),
        MetricSpec("length", _REFERENCE_TEXT, "mean answer length in characters", "text", None),
        MetricSpec(
            "preference_accuracy", ("preference",), "share of pairs the policy prefers the chosen", "preference"
        ),
        MetricSpec("reward_margin", ("preference",), "mean implicit reward of chosen minus rejected", "preference"),
    )
}

DATA_SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("jsonl", ("path",), (), "a JSON Lines file, one object a row"),
        SourceSpec("csv", ("path",), (), "a CSV file with a header row"),
        SourceSpec("parquet", ("path",), (), "a Parquet file"),
        SourceSpec("datasets", ("path",), (), "a folder written by datasets' save_to_disk"),
        SourceSpec("rows", (), (), "rows written inline in the recipe"),
    )
}

MODEL_SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("hf", ("id",), ("revision",), "a Hugging Face hub id (from the local cache when offline)"),
        SourceSpec("local", ("path",), (), "a model folder in the Hugging Face layout"),
        SourceSpec("package", ("name",), (), "an installed Python distribution that ships a model"),
        SourceSpec(
            "scratch",
            ("arch",),
            ("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab", "max_len"),
            "a small model built from a config, with a tokenizer trained on the recipe's data",
        ),
    )
}

FILTER_FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("len", ("any",), "number", "the length of a text or a list"),
        FunctionSpec("lower", ("text",), "text", "the text in lower case"),
        FunctionSpec("upper", ("text",), "text", "the text in upper case"),
        FunctionSpec("strip", ("text",), "text", "the text without surrounding whitespace"),
    )
}

SCHEDULES: dict[str, OptionSpec] = {
    spec.name: spec
    for spec in (
        OptionSpec("constant", "the same learning rate throughout (after warm-up)"),
        OptionSpec("linear", "linear decay to 0 after warm-up"),
        OptionSpec("cosine", "cosine decay to 0 after warm-up"),
    )
}


def metrics_for(shape: str) -> list[str]:
    """The metrics that apply to a prompt shape, in catalogue order."""
    return [name for name, spec in METRICS.items() if shape in spec.shapes]


def methods_for(shape: str) -> list[str]:
    return [name for name, spec in METHODS.items() if shape in spec.shapes]
