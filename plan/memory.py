"""The memory a plan needs per device: weights, gradients, optimizer state and activations.

One model shared by `ft plan` (from the model's config, read without weights) and by the run's
check before it loads a model. Plain Python: the compiler imports it at check time.

Activations count the tensors a llama-style decoder layer keeps for its backward pass, per
token: the layer's input and the normalised input of both blocks, q, k and v (and their rotated
copies), the attention output, the MLP's gate, up, activation and product. With gradient
checkpointing each layer keeps only its input, and one layer at a time is recomputed. Not
counted: the CUDA context and the allocator's cache (a few hundred MB), and Python's own memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .catalogue import OPTIMIZERS

if TYPE_CHECKING:  # pydantic stays out of `ft check`'s start-up
    from .models import LoraMethod, Plan

_ENCODERS = ("bert", "roberta", "xlm-roberta", "electra")
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# Bytes per weight of a bitsandbytes-quantized linear layer: nf4 packs two weights a byte,
# plus its double-quantized block scales; int8 one byte, plus a scale per row.
_QUANTIZED_BYTES = {"nf4": 0.53, "int8": 1.0}
_ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_DEFAULT_TARGETS = ("q_proj", "v_proj")  # peft's default for llama-style models


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of a model's config."""

    model_type: str
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool
    positions: int = 0  # an encoder's position and token-type embeddings

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def module_dims(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of a decoder layer."""
        h, i, q, kv = self.hidden, self.intermediate, self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        """Weights of the decoder layers' linear layers: what quantization shrinks."""
        return self.layers * sum(a * b for a, b in self.module_dims().values())

    @property
    def params(self) -> int:
        if self.model_type in _ENCODERS:
            h, i = self.hidden, self.intermediate
            return self.layers * (4 * h * h + 2 * h * i + 9 * h + i) + (self.vocab + self.positions) * h + h * h + 3 * h
        return self.linear_params + self.layers * 2 * self.hidden + self.embedding_params + self.hidden

    @property
    def embedding_params(self) -> int:
        return (1 if self.tied else 2) * self.vocab * self.hidden


def shape_of(model_type: str, config: dict[str, Any]) -> Shape | None:
    """A Shape from a Hugging Face config (or a scratch model's fields); None when it lacks sizes."""
    hidden = config.get("hidden_size") or config.get("hidden")
    layers = config.get("num_hidden_layers") or config.get("layers")
    vocab = config.get("vocab_size") or config.get("vocab")
    if not (hidden and layers and vocab):
        return None
    heads = config.get("num_attention_heads") or config.get("heads") or 1
    return Shape(
        model_type=model_type,
        layers=layers,
        hidden=hidden,
        intermediate=config.get("intermediate_size") or config.get("intermediate") or 4 * hidden,
        heads=heads,
        kv_heads=config.get("num_key_value_heads") or config.get("kv_heads") or heads,
        vocab=vocab,
        tied=bool(config.get("tie_word_embeddings", False)),
        positions=config.get("max_position_embeddings", 512) + config.get("type_vocab_size", 2),
    )


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per device."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    activations_checkpointed: int
    checkpointing: bool
    dtype: str
    master: int = 0  # `bf16_master`'s float32 copies of the trained weights

    @property
    def total(self) -> int:
        active = self.activations_checkpointed if self.checkpointing else self.activations
        return self.weights + self.gradients + self.optimizer + self.master + active


def weights_dtype(precision: str, dtype: str, cuda: bool, trains_base: bool) -> str:
    """The model's `dtype`, `auto` resolved, for the runtime and the estimate alike: half-precision
    weights on a GPU only (and under `bf16_master` on any device); fp16 training keeps the weights it
    trains in float32. `precision` is resolved (not `auto`); `trains_base`: no adapter, the base's own
    weights get gradients."""
    if dtype != "auto":
        return dtype
    if precision == "bf16_master":
        return "bfloat16"
    half = {"bf16": "bfloat16", "fp16": "float32" if trains_base else "float16"}
    return half.get(precision, "float32") if cuda else "float32"


def weight_dtype(plan: Plan, device: str) -> str:
    """The model's `dtype` on `device`, `auto` resolved as the runtime resolves it on a GPU with bfloat16."""
    precision = "bf16" if plan.compute.precision == "auto" and device == "cuda" else plan.compute.precision
    return weights_dtype(precision, plan.model.dtype, device == "cuda", _lora(plan) is None)


def _lora(plan: Plan) -> LoraMethod | None:
    method = plan.method
    return method if method.kind == "lora" else getattr(method, "adapter", None)


def _targets(lora: LoraMethod) -> tuple[str, ...]:
    return _ALL_LINEAR if lora.targets == "all_linear" else (tuple(lora.targets) or _DEFAULT_TARGETS)


def _trainable(plan: Plan, shape: Shape) -> int:
    lora = _lora(plan)
    if lora is None:
        return shape.params
    dims = shape.module_dims()
    adapters = shape.layers * sum(lora.rank * sum(dims.get(t, (shape.hidden, shape.hidden))) for t in _targets(lora))
    whole = sum(shape.vocab * shape.hidden for name in lora.also_train if name in ("embed_tokens", "lm_head"))
    return adapters + whole


def _activation_bytes(plan: Plan, shape: Shape, half: bool) -> tuple[int, int]:
    """(without checkpointing, with it) for one micro-batch of full rows."""
    micro = plan.train.micro_batch or max(plan.train.batch // plan.compute.processes, 1)
    tokens = micro * plan.train.max_len
    unit = 2 if half else 4
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_heads * shape.head_dim
    # RMSNorm computes in float32 whatever the autocast: its input is kept at 4 bytes.
    per_layer = unit * (6 * h + 3 * kv + 4 * i) + 2 * 4 * h
    if plan.compute.attention == "eager":  # scores and probabilities, [heads, L, L] per row
        per_layer += 2 * unit * shape.heads * plan.train.max_len
    outside = 4 * h + unit * h  # the final norm in float32 and the embeddings' output
    layer_inputs = shape.layers * unit * h
    # Checkpointing keeps each layer's input and recomputes one layer at a time in the backward pass.
    return tokens * (shape.layers * per_layer + outside), tokens * (layer_inputs + per_layer + outside)


def estimate(plan: Plan, shape: Shape, device: str = "cuda") -> MemoryEstimate:
    """Per device, for `device` "cuda" or "cpu"; FSDP divides the sharded states by the processes."""
    dtype = weight_dtype(plan, device)
    weight_bytes = _DTYPE_BYTES[dtype]
    weights: float  # bytes, like gradients and optimizer: FSDP's shards divide them
    if plan.model.quantize:
        # peft's k-bit preparation keeps every weight it does not quantize in float32.
        rest = shape.params - shape.linear_params
        weights = shape.linear_params * _QUANTIZED_BYTES[plan.model.quantize] + rest * 4
    else:
        weights = shape.params * weight_bytes
    trainable = _trainable(plan, shape)
    trainable_bytes = 4 if _lora(plan) is not None else weight_bytes  # peft keeps adapters in float32
    # bf16_master steps float32 copies of half-precision trained weights, with float32 gradients.
    master: float = trainable * 4 if plan.compute.precision == "bf16_master" and trainable_bytes < 4 else 0
    trainable_bytes = 4 if master else trainable_bytes
    spec = OPTIMIZERS[plan.train.optimizer.kind]
    state = spec.state_bytes * trainable_bytes / 4 if spec.state_bytes >= 4 else spec.state_bytes
    if plan.train.optimizer.kind == "sgd" and plan.train.optimizer.momentum == 0:
        state = 0
    gradients: float = trainable * trainable_bytes
    optimizer: float = trainable * state
    if plan.compute.strategy == "fsdp" and plan.compute.processes > 1:
        shards = plan.compute.processes
        weights, gradients, optimizer = weights / shards, gradients / shards, optimizer / shards
        if plan.compute.offload:
            weights = gradients = optimizer = 0
    half = plan.compute.precision in ("bf16", "bf16_master", "fp16") or (
        plan.compute.precision == "auto" and device == "cuda"
    )
    full, checkpointed = _activation_bytes(plan, shape, half)
    return MemoryEstimate(
        weights=math.ceil(weights),
        gradients=math.ceil(gradients),
        optimizer=math.ceil(optimizer),
        activations=full,
        activations_checkpointed=checkpointed,
        checkpointing=plan.train.gradient_checkpointing,
        dtype=dtype,
        master=math.ceil(master),
    )


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def describe(est: MemoryEstimate, device: str) -> str:
    """One line for `ft plan` and for the run's error when it would not fit."""
    without, with_ = gigabytes(est.activations), gigabytes(est.activations_checkpointed)
    acts = (
        f"activations {with_} with checkpointing ({without} without)"
        if est.checkpointing
        else (f"activations {without} ({with_} with checkpointing)")
    )
    master = f" + master weights {gigabytes(est.master)}" if est.master else ""
    return (
        f"≈ {gigabytes(est.total)} per {'GPU' if device == 'cuda' else 'process'} ({est.dtype}): weights "
        f"{gigabytes(est.weights)} + gradients {gigabytes(est.gradients)} + optimizer {gigabytes(est.optimizer)}"
        f"{master} + {acts}"
    )
