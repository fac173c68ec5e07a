"""The Plan: the typed, frozen contract between the compiler and the runtime."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

PLAN_FORMAT_VERSION: Final = 1


class Node(BaseModel):
    """Base of every Plan model: closed (unknown keys rejected) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --- model -----------------------------------------------------------------


class HfModel(Node):
    kind: Literal["hf"] = "hf"
    id: str = Field(min_length=1)
    revision: str | None = None


class LocalModel(Node):
    kind: Literal["local"] = "local"
    path: str = Field(min_length=1)


class PackageModel(Node):
    kind: Literal["package"] = "package"
    name: str = Field(min_length=1)


class ScratchModel(Node):
    """A small model built from a config; its tokenizer is trained on the recipe's data."""

    kind: Literal["scratch"] = "scratch"
    arch: Literal["llama"] = "llama"
    hidden: int = Field(default=64, ge=8)
    layers: int = Field(default=2, ge=1)
    heads: int = Field(default=4, ge=1)
    kv_heads: int | None = Field(default=None, ge=1)
    intermediate: int | None = Field(default=None, ge=8)
    vocab: int = Field(default=512, ge=64)
    max_len: int = Field(default=256, ge=16)


ModelSource = Annotated[HfModel | LocalModel | PackageModel | ScratchModel, Field(discriminator="kind")]


class ModelPlan(Node):
    name: str
    source: ModelSource
    trust_remote_code: bool = False
    # auto: bfloat16 on a GPU that supports it, float32 elsewhere (resolved when the run starts)
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "auto"
    # QLoRA: the frozen base loads in 4-bit NormalFloat or 8 bits (bitsandbytes); adapters train
    quantize: Literal["nf4", "int8"] | None = None


# --- data ------------------------------------------------------------------


class FileData(Node):
    """A data file or folder; `sha256` pins its content at check time."""

    kind: Literal["jsonl", "csv", "parquet", "datasets"]
    path: str = Field(min_length=1)
    sha256: str | None = None


class InlineData(Node):
    kind: Literal["rows"] = "rows"
    rows: list[dict[str, Any]] = Field(min_length=1)


class HubData(Node):
    """A hub dataset read through `datasets.load_dataset` (from its cache when offline).

    `commit` pins the cached commit `ft check` read, as `sha256` pins a file.
    """

    kind: Literal["hf"] = "hf"
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
    config: str | None = None
    split: str = Field(default="train", min_length=1)
    revision: str | None = None
    commit: str | None = None


DataSource = Annotated[FileData | InlineData | HubData, Field(discriminator="kind")]


class SplitPlan(Node):
    """Named fractions that add up to 1; rows go to parts by a stable hash with `seed`."""

    parts: dict[str, float]
    seed: int = 0


class DataPlan(Node):
    name: str
    source: DataSource
    where: list[dict[str, Any]] = Field(default_factory=list)  # expression trees, see expr.py
    dedupe: list[str] = Field(default_factory=list)
    split: SplitPlan = SplitPlan(parts={"train": 1.0})
    bad_rows: Literal["error", "skip"] = "error"
    fields: list[str] = Field(default_factory=list)  # as read from the first rows at check time


class DataRef(Node):
    """One split of one data declaration, written `tickets.eval` in a recipe.

    In a training mixture (`data chats.train weight 0.9`), `weight` sets the source's share
    of each epoch and `max_rows` caps the rows taken from it (a sample fixed by the seed).
    """

    data: str
    split: str | None = None
    weight: float | None = Field(default=None, gt=0)
    max_rows: int | None = Field(default=None, ge=1)


def _as_list(value: Any) -> Any:
    """One data reference where a list of them is expected: plans written before mixtures."""
    return [value] if isinstance(value, dict | DataRef) else value


DataRefs = Annotated[list[DataRef], BeforeValidator(_as_list), Field(min_length=1)]


# --- prompt ----------------------------------------------------------------


class Turn(Node):
    role: Literal["system", "user", "assistant"]
    template: str


ChatRole = Literal["system", "user", "assistant"]


def _same_roles() -> dict[str, ChatRole]:
    return {"system": "system", "user": "user", "assistant": "assistant"}


class Conversation(Node):
    """A data field holding a list of turns of any length: records with a role and a text.

    `roles` maps the data's role names to chat roles: `{role, content}` turns name them
    system/user/assistant; ShareGPT's `{from, value}` turns name them system/human/gpt.
    """

    field: str = Field(min_length=1)
    role_key: str = Field(default="role", min_length=1)
    content_key: str = Field(default="content", min_length=1)
    roles: dict[str, ChatRole] = Field(default_factory=_same_roles)


class ChatTemplate(Node):
    """How chat turns become text: the tokenizer's own template, a named built-in, or custom jinja."""

    name: str = "tokenizer"  # a name of plan.catalogue.CHAT_TEMPLATES, or "custom"
    jinja: str | None = None  # the text of a custom template


class PromptPlan(Node):
    """How a row becomes model input; `task` follows from the turns that are present."""

    name: str
    # "generation": an `input` alone, for methods that learn from rewards on what the model writes
    # "unpaired": an `input`, one `completion` and whether it is `desirable` (KTO)
    task: Literal["chat", "completion", "classification", "preference", "generation", "unpaired"]
    turns: list[Turn] = Field(default_factory=list)
    input: str | None = None
    target: str | None = None
    label: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    completion: str | None = None
    desirable: str | None = None  # a template that renders to true or false
    labels: list[str] | None = None
    fields: list[str] = Field(default_factory=list)  # the data fields the templates use
    messages: Conversation | None = None  # a chat read from a list of turns in the data
    template: ChatTemplate = ChatTemplate()  # chat prompts: how turns become text
    train_on: Literal["assistant", "last", "all"] = "assistant"  # chat prompts: which turns the loss covers


# --- method ----------------------------------------------------------------


class FullMethod(Node):
    kind: Literal["full"] = "full"


class LoraMethod(Node):
    kind: Literal["lora"] = "lora"
    rank: int = Field(default=8, ge=1, le=1024)
    alpha: float = Field(default=16.0, gt=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    # empty: the model family's defaults; "all_linear": every linear layer but the output head
    targets: list[str] | Literal["all_linear"] = Field(default_factory=list)
    # Whole modules trained beside the adapters (peft's modules_to_save), e.g. the embeddings
    # of a model whose vocabulary is new: a scratch model's random embeddings never learn else.
    also_train: list[str] = Field(default_factory=list)
    dora: bool = False  # weight-decomposed adapters (peft's use_dora)
    rslora: bool = False  # scale alpha / sqrt(rank) instead of alpha / rank (peft's use_rslora)
    init: Literal["default", "gaussian", "pissa", "olora"] = "default"  # peft's init_lora_weights


class DpoMethod(Node):
    kind: Literal["dpo"] = "dpo"
    beta: float = Field(default=0.1, gt=0)
    loss: Literal["sigmoid", "ipo", "hinge"] = "sigmoid"
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    reference: Literal["base", "precomputed"] = "base"
    adapter: LoraMethod | None = None


class KtoMethod(Node):
    """KTO: unpaired completions, each desirable or not, against the reference's KL estimate."""

    kind: Literal["kto"] = "kto"
    beta: float = Field(default=0.1, gt=0)
    desirable_weight: float = Field(default=1.0, gt=0)
    undesirable_weight: float = Field(default=1.0, gt=0)
    adapter: LoraMethod | None = None


class OrpoMethod(Node):
    """ORPO: the SFT loss on the chosen answer plus `lambda` times the odds-ratio term; no reference."""

    # `lambda` is the paper's name and a Python keyword: the Plan's JSON says `lambda`.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, serialize_by_alias=True)
    kind: Literal["orpo"] = "orpo"
    lambda_: float = Field(default=0.1, gt=0, le=10, alias="lambda")
    adapter: LoraMethod | None = None


class SimpoMethod(Node):
    """SimPO: length-normalised log-probabilities with a target margin `gamma`; no reference."""

    kind: Literal["simpo"] = "simpo"
    beta: float = Field(default=2.0, gt=0)
    gamma: float = Field(default=0.5, ge=0)
    adapter: LoraMethod | None = None


class RewardMethod(Node):
    """A Bradley–Terry reward model: a scalar head on the base, trained on chosen/rejected pairs."""

    kind: Literal["reward"] = "reward"
    center: float = Field(default=0.0, ge=0)  # weight of (r_chosen + r_rejected)², keeping scores near 0
    adapter: LoraMethod | None = None


class Reward(Node):
    """One term of a GRPO reward; the reward of a completion is the weighted sum of its terms.

    exact / fuzzy / contains compare the completion with the row's `field`; regex matches
    `pattern`; json_valid checks it parses; length penalises text beyond `max` characters;
    plugin calls a function a Python package registers under the `ftlang.rewards` entry point;
    model scores prompt + completion with a trained reward model (`method reward`) at `path`, a
    run directory or a model folder, relative to the recipe.
    """

    kind: Literal["exact", "fuzzy", "contains", "regex", "json_valid", "length", "plugin", "model"]
    field: str | None = None
    pattern: str | None = None
    max: int | None = Field(default=None, ge=1)
    name: str | None = None
    path: str | None = None
    weight: float = 1.0


class GrpoMethod(Node):
    kind: Literal["grpo"] = "grpo"
    group_size: int = Field(default=4, ge=2)
    beta: float = Field(default=0.04, ge=0)
    clip: float = Field(default=0.2, gt=0)
    max_new_tokens: int = Field(default=16, ge=1)
    temperature: float = Field(default=1.0, gt=0)
    rewards: list[Reward] = Field(min_length=1)
    adapter: LoraMethod | None = None


MethodPlan = Annotated[
    FullMethod | LoraMethod | DpoMethod | GrpoMethod | KtoMethod | OrpoMethod | SimpoMethod | RewardMethod,
    Field(discriminator="kind"),
]


# --- train -----------------------------------------------------------------


class Schedule(Node):
    kind: Literal["constant", "linear", "cosine"] = "constant"
    warmup: float = Field(default=0.0, ge=0)  # < 1: a fraction of all steps; >= 1: steps


class Optimizer(Node):
    """An optimizer of catalogue.OPTIMIZERS; each takes only the settings its entry lists."""

    kind: Literal["adamw", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"] = "adamw"
    betas: list[Annotated[float, Field(ge=0, lt=1)]] = Field(
        default_factory=lambda: [0.9, 0.999], min_length=2, max_length=2
    )
    eps: float = Field(default=1e-8, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)


class TrainPlan(Node):
    data: DataRefs  # one source, or the sources of a mixture
    # A fraction trains on part of an epoch; `int | float` keeps whole epochs integers in the plan.
    epochs: Annotated[int, Field(gt=0)] | Annotated[float, Field(gt=0)] = 1
    max_steps: int | None = Field(default=None, ge=1)
    lr: float = Field(default=1e-4, gt=0, le=10)
    batch: int = Field(default=8, ge=1)
    micro_batch: int | None = Field(default=None, ge=1)
    schedule: Schedule = Schedule()
    weight_decay: float = Field(default=0.0, ge=0)
    grad_clip: float | None = Field(default=1.0, gt=0)
    max_len: int = Field(default=256, ge=8)
    pack: bool = False
    seed: int = 0
    eval_every: Annotated[int, Field(ge=1)] | Literal["epoch"] | None = None  # steps, or at each epoch's end
    checkpoint_every: int | None = Field(default=None, ge=1)
    log_every: int = Field(default=1, ge=1)
    patience: int | None = Field(default=None, ge=1)  # stop after this many evals without improvement
    keep_best: str | None = None  # an eval metric: keep the checkpoint where it was best
    optimizer: Optimizer = Optimizer()
    # Recompute each decoder layer's activations in the backward pass (non-reentrant):
    # activation memory of one layer instead of all, for about a third more compute.
    gradient_checkpointing: bool = False
    # Experiment trackers of catalogue.TRACKERS that receive what metrics.jsonl records.
    track: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(default_factory=list)


# --- eval ------------------------------------------------------------------


class Metric(Node):
    """A metric by name; `arg` carries the pattern of `regex(…)` and the text of `contains(…)`."""

    name: str
    arg: str | None = None


class Generation(Node):
    max_new_tokens: int = Field(default=32, ge=1)
    sample: bool = False
    temperature: float = Field(default=1.0, gt=0)
    seed: int = 0


class Guard(Node):
    name: str
    source: DataSource
    metric: Metric = Metric(name="loss")
    max_drop: float = Field(ge=0, le=1)


class Gate(Node):
    metric: str
    delta: bool = False  # compare the change against the base model, not the value
    op: Literal[">=", "<=", ">", "<"]
    value: float


class EvalPlan(Node):
    on: DataRef  # the set gates, `keep_best`, `patience` and the base comparison read
    # Further sets (`on [chats.eval, general.eval]`), measured with the same metrics at every
    # evaluation and reported per set as `<data>.<split>/<metric>`.
    also_on: list[DataRef] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=lambda: [Metric(name="loss")])
    compare_base: bool = False
    guards: list[Guard] = Field(default_factory=list)
    require: list[Gate] = Field(default_factory=list)
    generation: Generation = Generation()
    samples: int = Field(default=3, ge=0)


# --- compute ---------------------------------------------------------------


class ComputePlan(Node):
    """Where and how the run executes; `processes` > 1 runs under torch.distributed with `strategy`."""

    strategy: Literal["ddp", "fsdp"] = "ddp"
    processes: int = Field(default=1, ge=1)
    # bf16: autocast over the model's weights; bf16_master: bfloat16 weights, float32 master copies
    # of the trained ones that the optimizer steps
    precision: Literal["auto", "fp32", "bf16", "bf16_master", "fp16"] = "auto"
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: a GPU when there is one
    # auto: flash-attention when installed on a GPU, else FlexAttention for packed rows, else sdpa
    attention: Literal["auto", "sdpa", "flex", "flash", "eager"] = "auto"
    compile: bool = False  # torch.compile each decoder layer
    kernels: Literal["none", "liger"] = "none"  # Liger's fused Triton kernels (GPU)
    offload: bool = False  # FSDP2: parameters and optimizer state in CPU memory
    tf32: bool = True  # TensorFloat-32 matrix products on GPUs that have them
    # Deterministic kernels on a GPU (slower): two runs give the same bits. CPU runs always are.
    deterministic: bool = False


# --- the whole plan --------------------------------------------------------


class Override(Node):
    """A value set on the command line (`--set name=value`), kept so the report can say so."""

    name: str
    value: str
    recipe: str | None = None  # the recipe's own text for it; None where the recipe set none


class PinnedSource(Node):
    path: str
    sha256: str


class Plan(Node):
    format_version: Literal[1] = PLAN_FORMAT_VERSION
    recipe: str
    description: str = ""
    root: str  # absolute folder of the recipe; relative paths resolve against it
    sources: list[PinnedSource] = Field(default_factory=list)  # recipe files read, hashed
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)  # `--set` on the command line, in order
    model: ModelPlan
    data: list[DataPlan]
    prompt: PromptPlan
    method: MethodPlan
    train: TrainPlan
    eval: EvalPlan | None = None
    compute: ComputePlan = ComputePlan()
