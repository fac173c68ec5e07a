"""What a model's config says, read without torch: its family, sizes and module names."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlang.plan.memory import shape_of

from .confine import is_allowed

_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Names of the linear layers LoRA can target, per `model_type` of a transformers config.
MODULES: dict[str, tuple[str, ...]] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "olmo": _LLAMA_LIKE,
    "bert": ("query", "key", "value", "dense"),
    "roberta": ("query", "key", "value", "dense"),
    "xlm-roberta": ("query", "key", "value", "dense"),
    "electra": ("query", "key", "value", "dense"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "t5": ("q", "k", "v", "o", "wi", "wo", "wi_0", "wi_1"),
}
# Families whose every linear layer but the output head sits in the repeated blocks (no pooler,
# no head transform): with no blocks, peft's all-linear has nothing to adapt.
_LINEARS_IN_BLOCKS_ONLY = frozenset({"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "olmo", "gpt2"})
# Families whose layers are transformers' Conv1D, its weight stored in × out, not nn.Linear's out × in.
_CONV1D = frozenset({"gpt2"})
# Where a config gives its number of blocks: transformers' names, then a scratch model's field.
_LAYER_KEYS = ("num_hidden_layers", "n_layer", "layers")


@dataclass(frozen=True)
class ModelFacts:
    model_type: str
    config: dict[str, Any]
    where: str  # where the config came from, in words for a diagnostic

    @property
    def modules(self) -> tuple[str, ...] | None:
        return MODULES.get(self.model_type)

    @property
    def layers(self) -> tuple[str, int] | None:
        """The config's number of blocks and the key that gives it."""
        for key in _LAYER_KEYS:
            value = self.config.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return key, value
        return None

    @property
    def only_linear_is_the_head(self) -> bool:
        """No linear layer but the output head: a family that keeps them all in blocks, with none."""
        layers = self.layers
        return self.model_type in _LINEARS_IN_BLOCKS_ONLY and layers is not None and layers[1] == 0

    @property
    def conv1d_layers(self) -> bool:
        """Whether the layers LoRA adapts are transformers' Conv1D (GPT-2's), not nn.Linear."""
        return self.model_type in _CONV1D


_DISTRIBUTION_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def package_distribution(name: str) -> importlib.metadata.Distribution | None:
    """The installed distribution named `name`, from its metadata: nothing is imported, so no code
    of the package (or of any module a recipe names) runs at check time."""
    if not _DISTRIBUTION_NAME.fullmatch(name):
        return None
    try:
        return importlib.metadata.distribution(name)
    except (importlib.metadata.PackageNotFoundError, OSError, ValueError):
        return None


def _package_config(name: str) -> Path | None:
    """The shallowest config.json among the files the distribution installed."""
    distribution = package_distribution(name)
    files = (distribution.files or []) if distribution else []
    configs = sorted((f for f in files if f.name == "config.json"), key=lambda f: len(f.parts))
    if not configs or distribution is None:
        return None
    return Path(str(distribution.locate_file(configs[0])))


_REVISION = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def hub_snapshot(model_id: str, revision: str | None) -> Path | None:
    """The cached snapshot folder of a hub model that holds its config (the hub itself is not asked):
    the one `revision` names (a commit, or a branch or tag through the cache's refs/), else refs/main's,
    else the first."""
    home = Path(
        os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache/huggingface")) / "hub"
    )
    repo = home / f"models--{model_id.replace('/', '--')}"  # no `/` is left: the name stays one folder
    snapshots = repo / "snapshots"
    if revision is None and (repo / "refs" / "main").is_file():
        revision = "main"  # what transformers loads offline when the recipe pins no revision
    if revision and _REVISION.fullmatch(revision) and (repo / "refs" / revision).is_file():
        try:
            revision = (repo / "refs" / revision).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:  # an unreadable ref names no snapshot we can read either
            return None
    if not snapshots.is_dir() or (revision is not None and not _REVISION.fullmatch(revision)):
        return None  # a revision that is not one folder name names no snapshot
    candidates = [snapshots / revision] if revision else sorted(snapshots.iterdir())
    return next((snapshot for snapshot in candidates if (snapshot / "config.json").is_file()), None)


def model_folder(source: dict[str, Any], root: Path) -> Path | None:
    """The folder of a local model the recipe may read, or of a hub model's cached snapshot: where its
    config and tokenizer files lie. None for other sources, or where there is none to read."""
    kind, path, model_id = source.get("kind"), source.get("path"), source.get("id")
    if kind == "local" and isinstance(path, str) and is_allowed(root, Path(path)):
        return root / path
    if kind == "hf" and isinstance(model_id, str):
        return hub_snapshot(model_id, source.get("revision"))
    return None


def model_facts(source: dict[str, Any], root: Path) -> ModelFacts | None:
    """Facts about the model a `model` declaration names, where its config can be read cheaply."""
    kind = source.get("kind")
    if kind == "scratch":
        return ModelFacts("llama", {k: v for k, v in source.items() if k != "kind"}, "scratch(…)")
    path: Path | None = None
    if kind == "package" and isinstance(source.get("name"), str):
        path, where = _package_config(source["name"]), f"the config of package `{source['name']}`"
    elif folder := model_folder(source, root):
        path = folder / "config.json"
        where = f"{source['path']}/config.json" if kind == "local" else f"the cached config of `{source['id']}`"
    if path is None or not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(config, dict):  # not a transformers config: nothing to learn from it
        return None
    return ModelFacts(str(config.get("model_type", "")), config, where)


def estimated_params(facts: ModelFacts) -> int | None:
    """Parameters of an encoder or decoder from its config (embeddings included)."""
    shape = shape_of(facts.model_type, facts.config)
    return shape.params if shape else None
