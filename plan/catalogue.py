"""The catalogue: every name the language knows, declared once.

Methods, metrics, data and model sources, filter functions, schedules and optimizers live
here with what the checker, the runtime, the CLI and the docs need to know of them. Adding
one is one entry here plus its implementation. This module is plain Python (no pydantic,
no torch) so that `ft check` can read it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The shapes a prompt can take; each follows from the turns a prompt declares.
PROMPT_SHAPES = ("chat", "completion", "classification", "preference", "generation", "unpaired")


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
    argument: str | None = None  # the text `metric("…")` takes, named as the docs show it: `regex("pattern")`

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
    arguments: tuple[str, ...]  # "text", "number", "list", "bool", "any", or alternatives: "text|list"
    result: str
    summary: str


@dataclass(frozen=True)
class OptionSpec:
    """A named choice with a summary: schedules, optimizers and the like."""

    name: str
    summary: str
    requires: tuple[str, ...] = field(default=())  # Python distributions it needs


_TEXT = ("chat", "completion")  # prompts with an expected answer to compare with
_ANY_TEXT = (*_TEXT, "generation")

METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "full",
            "FullMethod",
            ("chat", "completion", "classification"),
            "train every weight of the model",
        ),
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
            ("generation", "completion"),
            "group relative policy optimisation: sample, reward, update",
            reference_free=False,
            nested_fields=frozenset({"adapter", "rewards"}),
        ),
        MethodSpec(
            "kto",
            "KtoMethod",
            ("unpaired",),
            "Kahneman-Tversky optimisation on single completions marked desirable or not",
            reference_free=False,
            nested_fields=frozenset({"adapter"}),
        ),
        MethodSpec(
            "orpo",
            "OrpoMethod",
            ("preference",),
            "odds-ratio preference optimisation: the SFT loss plus an odds-ratio term, no reference",
            nested_fields=frozenset({"adapter"}),
        ),
        MethodSpec(
            "simpo",
            "SimpoMethod",
            ("preference",),
            "simple preference optimisation: length-normalised log-probabilities, no reference",
            nested_fields=frozenset({"adapter"}),
        ),
        MethodSpec(
            "reward",
            "RewardMethod",
            ("preference",),
            "a Bradley-Terry reward model: a scalar head scoring answers, trained on chosen/rejected pairs",
            model_kind="classifier",
            nested_fields=frozenset({"adapter"}),
        ),
    )
}

METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "loss",
            (*_TEXT, "classification", "preference", "unpaired"),
            "mean cross-entropy: per target token (chat, completion), per example (classification); "
            "the method's own loss on preference pairs and unpaired rows",
            "loss",
            False,
        ),
        MetricSpec("perplexity", (*_TEXT, "classification"), "`exp(loss)`", "loss", False),
        MetricSpec("accuracy", ("classification",), "share of rows whose most likely class is the label", "labels"),
        MetricSpec(
            "macro_f1",
            ("classification",),
            "unweighted mean of per-class F1 over the classes that occur in the labels or the predictions "
            '(scikit-learn\'s `f1_score(average="macro", zero_division=0)`)',
            "labels",
        ),
        MetricSpec(
            "exact_match",
            _TEXT,
            "share of generations equal to the expected answer, surrounding whitespace stripped, case-sensitive",
            "text",
        ),
        MetricSpec("contains", _ANY_TEXT, "share of generations containing `text`", "text", argument="text"),
        MetricSpec(
            "regex",
            _ANY_TEXT,
            "share of generations where the Python regular expression matches somewhere (`re.search`)",
            "text",
            argument="pattern",
        ),
        MetricSpec(
            "rouge_l",
            _TEXT,
            "mean ROUGE-L F-measure per row, by Google's `rouge-score` (its tokenizer: lower-cased ASCII letters "
            "and digits, no stemming; text in other scripts scores 0)",
            "text",
        ),
        MetricSpec(
            "bleu",
            _TEXT,
            "corpus BLEU by sacreBLEU (13a tokenizer, its default smoothing), on sacreBLEU's **0–100** scale; "
            "one-word answers have no 2-grams and score 0: use it on sentences",
            "text",
        ),
        MetricSpec(
            "rouge_1",
            _TEXT,
            "mean ROUGE-1 F-measure per row (shared words), by Google's `rouge-score`, tokenized as for `rouge_l`",
            "text",
        ),
        MetricSpec(
            "chrf",
            _TEXT,
            "corpus chrF by sacreBLEU (character 1- to 6-grams, β = 2, whitespace ignored), on its **0–100** "
            "scale; unlike BLEU it scores one-word answers",
            "text",
        ),
        MetricSpec("json_valid", _ANY_TEXT, "share of generations that parse as JSON", "text"),
        MetricSpec("length", _ANY_TEXT, "mean length of the generations in characters", "text", None),
        MetricSpec(
            "preference_accuracy",
            ("preference",),
            "share of eval pairs whose chosen answer has the higher implicit reward (measured by the method: "
            "dpo, orpo, simpo, reward)",
            "preference",
        ),
        MetricSpec(
            "reward_margin",
            ("preference", "unpaired"),
            "mean implicit reward of the chosen answer minus the rejected one (kto: of the desirable answers "
            "minus the undesirable ones), measured by the method",
            "preference",
        ),
        MetricSpec(
            "kl_estimate",
            ("unpaired",),
            "kto's estimate of the policy's KL from the reference, on mismatched prompt/completion pairs",
            "preference",
            None,
        ),
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
        SourceSpec(
            "hf",
            ("id",),
            ("config", "split", "revision"),
            "a Hugging Face hub dataset, read through datasets.load_dataset (from its cache when offline)",
        ),
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
        FunctionSpec("len", ("text|list",), "number", "the length of a text or a list"),
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

# How chat turns become text (`template = …` in a prompt); the jinja of each built-in is in
# runtime/data/chat_templates.py. A string in its place is a custom jinja template.
CHAT_TEMPLATES: dict[str, OptionSpec] = {
    spec.name: spec
    for spec in (
        OptionSpec("tokenizer", "the tokenizer's own chat template; `plain` when it has none"),
        OptionSpec("chatml", "<|im_start|>role … <|im_end|> (Qwen, OpenHermes, many fine-tunes)"),
        OptionSpec("llama3", "<|start_header_id|>role<|end_header_id|> … <|eot_id|> (Llama 3)"),
        OptionSpec(
            "mistral", "[INST] … [/INST] answer</s> (Mistral, Mixtral; a system turn joins the first user turn)"
        ),
        OptionSpec(
            "gemma", "<start_of_turn>user|model … <end_of_turn> (Gemma; a system turn joins the first user turn)"
        ),
        OptionSpec("alpaca", "### Instruction: … ### Response: … (Alpaca)"),
        OptionSpec("plain", "<|system|>, <|user|>, <|assistant|> lines, answers closed by EOS"),
    )
}

# The layouts of a turn in a list of turns (`format = …` in a prompt with `messages`):
# the keys of its role and its text, and the role names the data uses.
CONVERSATION_FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    "openai": ("role", "content", {"system": "system", "user": "user", "assistant": "assistant"}),
    "sharegpt": ("from", "value", {"system": "system", "human": "user", "gpt": "assistant"}),
}

# Which turns of a chat the loss covers (`train_on = …`).
TRAIN_ON: dict[str, OptionSpec] = {
    spec.name: spec
    for spec in (
        OptionSpec("assistant", "every assistant turn (the default)"),
        OptionSpec("last", "the last assistant turn only"),
        OptionSpec("all", "every turn, the system and user turns too"),
    )
}


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer: the library class that implements it, the settings it takes, what it needs."""

    name: str
    implementation: str  # "module:Class", imported by the runtime
    settings: tuple[str, ...]  # fields of the Plan's Optimizer it reads (betas, eps, momentum)
    summary: str
    requires: tuple[str, ...] = ()  # Python distributions it needs beyond torch
    cuda: bool = False  # needs a CUDA device
    state_bytes: int = 8  # optimizer state per trainable parameter, for the memory estimate


@dataclass(frozen=True)
class LeverSpec:
    """An optional speed or memory lever: the import it needs and the extra that installs it."""

    name: str
    module: str  # the import name whose presence `ft check` tests (never imported at check time)
    distribution: str
    extra: str  # pip install ftlang[extra]
    cuda: bool  # works on a CUDA device only


_ADAM = ("betas", "eps")

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec("adamw", "torch.optim:AdamW", _ADAM, "AdamW, fused where the tensors allow (torch)"),
        OptimizerSpec(
            "adamw_8bit",
            "bitsandbytes.optim:AdamW8bit",
            _ADAM,
            "AdamW with 8-bit block-wise moments (bitsandbytes): a quarter of the state memory",
            requires=("bitsandbytes",),
            state_bytes=2,
        ),
        OptimizerSpec(
            "paged_adamw_8bit",
            "bitsandbytes.optim:PagedAdamW8bit",
            _ADAM,
            "8-bit AdamW whose state pages to CPU memory under GPU memory pressure (bitsandbytes)",
            requires=("bitsandbytes",),
            cuda=True,
            state_bytes=2,
        ),
        OptimizerSpec(
            "adafactor",
            "transformers.optimization:Adafactor",
            ("eps",),
            "Adafactor with factored second moments and the given lr (transformers): about no state",
            state_bytes=0,
        ),
        OptimizerSpec("sgd", "torch.optim:SGD", ("momentum",), "SGD, with momentum when set (torch)", state_bytes=4),
    )
}

LEVERS: dict[str, LeverSpec] = {
    spec.name: spec
    for spec in (
        LeverSpec("quantize", "bitsandbytes", "bitsandbytes", "gpu", cuda=False),
        LeverSpec("flash", "flash_attn", "flash-attn", "flash", cuda=True),
        LeverSpec("liger", "liger_kernel", "liger-kernel", "gpu", cuda=True),
    )
}


@dataclass(frozen=True)
class TrackerSpec:
    """An experiment tracker (`track = [...]` in `train`): what it writes, and the extra that installs it."""

    name: str
    summary: str
    distribution: str  # tested by `ft check` through its installed metadata, never imported there
    extra: str  # pip install 'ftlang[extra]'


TRACKERS: dict[str, TrackerSpec] = {
    spec.name: spec
    for spec in (
        TrackerSpec(
            "tensorboard",
            "TensorBoard event files in the run directory's `tensorboard/`",
            "tensorboard",
            "tensorboard",
        ),
        TrackerSpec(
            "mlflow",
            "an MLflow run in the local file store `mlruns/` of the run directory (or `MLFLOW_TRACKING_URI`)",
            "mlflow-skinny",
            "mlflow",
        ),
        TrackerSpec(
            "wandb",
            "a Weights & Biases run, offline in the run directory's `wandb/` unless `WANDB_MODE=online`",
            "wandb",
            "wandb",
        ),
    )
}


@dataclass(frozen=True)
class RewardSpec:
    """A GRPO reward term: the one argument it takes (None: none) and how a recipe writes it."""

    name: str
    argument: str | None  # a data field, a pattern, a length or a plugin's name
    written: str
    summary: str


REWARDS: dict[str, RewardSpec] = {
    spec.name: spec
    for spec in (
        RewardSpec("exact", "field", "exact(field)", "1 if the stripped completion equals the row's field, else 0"),
        RewardSpec("fuzzy", "field", "fuzzy(field)", "difflib's similarity ratio of the completion and the field"),
        RewardSpec("contains", "field", "contains(field)", "1 if the row's field occurs in the completion"),
        RewardSpec("regex", "pattern", 'regex("…")', "1 if the pattern matches the completion (re.search)"),
        RewardSpec("json_valid", None, "json_valid", "1 if the completion parses as JSON"),
        RewardSpec("length", "max", "length(max = N)", "0 up to N characters, then -(chars - N) / N"),
        RewardSpec("plugin", "name", 'plugin("name")', "what a function registered under ftlang.rewards returns"),
        RewardSpec(
            "model",
            "path",
            'model("runs/reward")',
            "the score a trained reward model (`method reward`) gives prompt + completion; its run directory "
            "or model folder",
        ),
    )
}


# What an unpaired prompt's `desirable` may render to, in any case and with surrounding whitespace.
DESIRABLE_FLAGS: dict[str, bool] = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def reward_model_folder(root: Path, path: str) -> Path:
    """Where `reward model("path")` reads the model: a run directory's `model/`, or the folder itself."""
    folder = Path(root) / path
    return folder / "model" if (folder / "plan.json").is_file() else folder


def metrics_for(shape: str) -> list[str]:
    """The metrics that apply to a prompt shape, in catalogue order."""
    return [name for name, spec in METRICS.items() if shape in spec.shapes]


def methods_for(shape: str) -> list[str]:
    return [name for name, spec in METHODS.items() if shape in spec.shapes]
