"""Models: load a tokenizer and model from a local path, the hub, a package, or build one from scratch."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)

from ftlang.plan.catalogue import METHODS
from ftlang.plan.hashing import sha256_path
from ftlang.plan.models import HfModel, LocalModel, ModelPlan, PackageModel, Plan, ScratchModel
from ftlang.runtime import rundir
from ftlang.runtime.data.chat_templates import MARKERS
from ftlang.runtime.data.prompts import ROLE_MARKERS, Rendered, plain_text
from ftlang.runtime.data.sources import resolve
from ftlang.runtime.errors import RunError
from ftlang.runtime.quiet import quiet_libraries
from ftlang.runtime.train import distributed, levers

# Special tokens of a scratch tokenizer; the role markers of the plain chat format are
# single tokens so a chat never splits them.
PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SCRATCH_SPECIALS = [PAD, BOS, EOS, *ROLE_MARKERS.values()]
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ModelSource:
    """Where the base comes from, resolved: a folder or hub id, and its identity for the lock."""

    ref: str  # what from_pretrained gets: a folder path or a hub id
    revision: str | None = None
    identity: dict[str, Any] = field(default_factory=dict)


def resolve_source(mp: ModelPlan, root: Path) -> ModelSource | None:
    """The folder/id to load; None for scratch (built, not loaded)."""
    src = mp.source
    if isinstance(src, ScratchModel):
        return None
    if isinstance(src, HfModel):
        return ModelSource(src.id, src.revision, {"kind": "hf", "id": src.id, "revision": src.revision})
    if isinstance(src, LocalModel):
        path = resolve(root, src.path)
        if not path.is_dir():
            raise RunError(
                f"model folder not found: {src.path}",
                location=f"model `{mp.name}`",
                help=f"paths resolve against the recipe folder {root}",
            )
        return ModelSource(str(path), None, {"kind": "local", "path": src.path})
    assert isinstance(src, PackageModel)
    module = src.name.replace("-", "_")  # people write the distribution name
    try:
        pkg = importlib.import_module(module)
    except ImportError:
        raise RunError(
            f"the model package `{src.name}` is not installed",
            location=f"model `{mp.name}`",
            help=f"pip install {src.name}",
        ) from None
    getter = getattr(pkg, "get_model_path", None)
    if not callable(getter):
        raise RunError(f"the package `{src.name}` has no get_model_path()", location=f"model `{mp.name}`")
    path = Path(getter())
    try:
        version = importlib.metadata.version(src.name)
    except importlib.metadata.PackageNotFoundError:
        version = getattr(pkg, "__version__", None)
    return ModelSource(str(path), None, {"kind": "package", "name": src.name, "version": version})


def weights_sha256(folder: Path) -> dict[str, str]:
    """sha256 of every weight file in a model folder: the model's identity when no hub pins it."""
    return {
        p.relative_to(folder).as_posix(): sha256_path(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES)
    }


def _hub_error(mp: ModelPlan, ms: ModelSource, e: Exception) -> RunError:
    src = mp.source
    if isinstance(src, HfModel):
        at = f" @ {ms.revision}" if ms.revision else ""
        return RunError(
            f"cannot load `{src.id}`{at}: it is not in the local Hugging Face cache "
            f"and the hub is unreachable or refused ({type(e).__name__})",
            location=f"model `{mp.name}`",
            help="download it where the hub is reachable (HF_HOME points at the "
            'cache), or use local("path") with the model\'s folder',
        )
    return RunError(f"cannot load the model from {ms.ref}: {e}", location=f"model `{mp.name}`")


def _common_kwargs(mp: ModelPlan, ms: ModelSource) -> dict[str, Any]:
    # trust_remote_code comes from the Plan and nowhere else: a recipe must opt in.
    kw: dict[str, Any] = {"trust_remote_code": mp.trust_remote_code}
    if ms.revision:
        kw["revision"] = ms.revision
    return kw


def load_tokenizer(mp: ModelPlan, ms: ModelSource) -> Any:
    try:
        tok = AutoTokenizer.from_pretrained(ms.ref, **_common_kwargs(mp, ms))
    except (OSError, ValueError, ConnectionError) as e:
        raise _hub_error(mp, ms, e) from None
    return tok


def train_scratch_tokenizer(texts: Sequence[str], vocab: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on the recipe's training texts; deterministic for the same texts."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    # A chat template's markers, when the texts use them, are single tokens too: a BPE merge
    # across `<|eot_id|><|start_header_id|>` would blur where a trained turn ends.
    used = [marker for marker in MARKERS if any(marker in text for text in texts)]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=SCRATCH_SPECIALS + used,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    bos = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)


def scratch_config(
    src: ScratchModel, tokenizer: Any, num_labels: int | None = None, id2label: dict[int, str] | None = None
) -> LlamaConfig:
    kw: dict[str, Any] = {}
    if num_labels is not None:
        kw = {"num_labels": num_labels, "id2label": id2label, "label2id": {v: k for k, v in (id2label or {}).items()}}
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=src.hidden,
        num_hidden_layers=src.layers,
        num_attention_heads=src.heads,
        num_key_value_heads=src.kv_heads or src.heads,
        intermediate_size=src.intermediate or 4 * src.hidden,
        max_position_embeddings=src.max_len,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
        **kw,
    )


def build_scratch_model(
    src: ScratchModel, tokenizer: Any, task: str, seed: int, labels: Sequence[str] | None = None
) -> Any:
    """A freshly initialised llama; the seed fixes its weights."""
    torch.manual_seed(seed)
    if task == "classification":
        cfg = scratch_config(src, tokenizer, len(labels or []), dict(enumerate(labels or [])))
        return LlamaForSequenceClassification(cfg)
    return LlamaForCausalLM(scratch_config(src, tokenizer))


def load_pretrained(
    mp: ModelPlan,
    ms: ModelSource,
    task: str,
    seed: int,
    labels: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """from_pretrained for causal LM, or sequence classification with a new labelled head.

    `options`: the run's resolved levers (dtype, attention kernel, quantization; levers.load_kwargs).
    """
    kw = _common_kwargs(mp, ms)
    kw["dtype"] = _DTYPES.get(mp.dtype, "auto")
    kw.update(options or {})
    torch.manual_seed(seed)  # the new head's initial weights follow the run's seed
    try:
        with quiet_libraries():
            if task == "classification":
                labels = list(labels or [])
                return AutoModelForSequenceClassification.from_pretrained(
                    ms.ref,
                    num_labels=len(labels),
                    id2label=dict(enumerate(labels)),
                    label2id={n: i for i, n in enumerate(labels)},
                    **kw,
                )
            return AutoModelForCausalLM.from_pretrained(ms.ref, **kw)
    except (OSError, ConnectionError) as e:
        raise _hub_error(mp, ms, e) from None
    except ValueError as e:  # e.g. a config no Auto class knows for this task
        raise RunError(f"cannot load `{ms.ref}` for {task}: {e}", location=f"model `{mp.name}`") from None


def model_identity(mp: ModelPlan, ms: ModelSource | None, model: Any, saved: Path | None) -> dict[str, Any]:
    """What the lock records: hub id + revision + resolved commit, or weight file hashes."""
    ident = dict(ms.identity) if ms else {"kind": "scratch", **mp.source.model_dump(mode="json")}
    ident["model_type"] = model.config.model_type
    ident["parameters"] = sum(p.numel() for p in model.parameters())
    if ms and ident["kind"] == "hf":
        commit = getattr(model.config, "_commit_hash", None)
        if commit:
            ident["commit"] = commit
    folder = saved if saved else (Path(ms.ref) if ms and Path(ms.ref).is_dir() else None)
    if folder:
        ident["weights_sha256"] = weights_sha256(folder)
    return ident


def tokenizer_folder(plan: Plan, run_dir: Path) -> Path | None:
    """Where the run's tokenizer files lie: the base's folder, or base/ of a scratch run."""
    if isinstance(plan.model.source, ScratchModel):
        return run_dir / "base"
    source = resolve_source(plan.model, Path(plan.root))
    return Path(source.ref) if source is not None and Path(source.ref).is_dir() else None


def max_positions(model: Any) -> int | None:
    """Absolute-position models (BERT) cannot go past this; we clamp max_len to it."""
    return getattr(model.config, "max_position_embeddings", None)


def sequence_length(model: Any, wanted: int) -> int:
    """The plan's max_len, clamped to what the model's position embeddings reach."""
    limit = max_positions(model)
    return min(wanted, limit) if limit else wanted


def pad_token_id(tokenizer: Any) -> int:
    """Padding is masked out, so a tokenizer without a pad token pads with end-of-text, or 0."""
    return next(i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if i is not None)


def load_for_run(
    plan: Plan,
    run_dir: Path,
    labels: Sequence[str] | None,
    train_r: Sequence[Rendered],
    run_levers: levers.Levers,
) -> tuple[Any, Any, dict[str, Any]]:
    """The model and tokenizer a run trains, and the model's identity for the lock.

    A scratch model is built once into the run's base/ folder (from the training texts) and
    read back from there, so fresh and resumed runs train the same model by one code path.
    The levers set how it loads (dtype, attention, quantization) and what wraps it.
    """
    options = levers.load_kwargs(run_levers)
    model, tok, identity = _load_for_run(plan, run_dir, labels, train_r, options)
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False  # training never generates; no KV cache to build
    return levers.prepare(model, run_levers), tok, identity


# The one label of a reward model's scalar head: `AutoModelForSequenceClassification`, num_labels = 1.
REWARD_LABELS = ["reward"]


def _load_for_run(
    plan: Plan,
    run_dir: Path,
    labels: Sequence[str] | None,
    train_r: Sequence[Rendered],
    options: Mapping[str, Any],
) -> tuple[Any, Any, dict[str, Any]]:
    task, seed, src = plan.prompt.task, plan.train.seed, plan.model.source
    if METHODS[plan.method.kind].model_kind == "classifier":  # a reward model: one scalar head
        task, labels = "classification", REWARD_LABELS
    if not isinstance(src, ScratchModel):
        ms = resolve_source(plan.model, Path(plan.root))
        assert ms is not None
        tok = load_tokenizer(plan.model, ms)
        model = load_pretrained(plan.model, ms, task, seed, labels, options)
        return model, tok, model_identity(plan.model, ms, model, None)
    base = run_dir / rundir.BASE
    if distributed.is_main() and not (base / "config.json").exists():  # resumed runs reuse it
        tok = train_scratch_tokenizer([plain_text(r) for r in train_r], src.vocab)
        built = build_scratch_model(src, tok, task, seed, labels)
        rundir.save_dir_atomic(base, lambda d: (built.save_pretrained(d), tok.save_pretrained(d)))
    distributed.barrier()
    ms = ModelSource(str(base), None, {})
    tok = load_tokenizer(plan.model, ms)
    model = load_pretrained(plan.model, ms, task, seed, labels, options)
    return model, tok, model_identity(plan.model, None, model, base)
