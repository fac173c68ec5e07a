"""What makes a run's numbers besides the plan: libraries, the tokenizer, the GPU stack, determinism.

lock.json records these so that `ft reproduce` can say, before running again, what changed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.hashing import sha256_path

# Every library on the path from a row to a metric: reading and rendering the data, tokenizing,
# the model and its adapters, the optimizers and kernels, and the metrics a gate decides on.
LIBRARIES = (
    "ftlang",
    "torch",
    "transformers",
    "peft",
    "tokenizers",
    "safetensors",
    "datasets",
    "pyarrow",
    "numpy",
    "jinja2",
    "accelerate",
    "bitsandbytes",
    "flash-attn",
    "liger-kernel",
    "sacrebleu",
    "rouge-score",
    "scikit-learn",
)

# The files a Hugging Face tokenizer is made of; any of them changes the token ids.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "chat_template.jinja",
)

# The setting that lets cuBLAS reduce in a fixed order (NVIDIA's documented value).
CUBLAS_DETERMINISTIC = ":4096:8"


def library_versions() -> dict[str, str]:
    """Installed versions; a library that is not installed says so, so its arrival is a change too."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def tokenizer_pins(tokenizer: Any, folder: Path | None) -> dict[str, Any]:
    """The tokenizer by content: its folder's files when it came from one, and always its
    serialised form (a scratch tokenizer is trained at run time and has no folder)."""
    pins: dict[str, Any] = {}
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        pins["serialized_sha256"] = hashlib.sha256(backend.to_str().encode()).hexdigest()
    if folder is not None and folder.is_dir():
        files = {}
        for name in TOKENIZER_FILES:
            path = folder / name
            if path.is_file():
                files[name] = sha256_path(path)
        pins["files"] = files
    return pins


def gpu_stack(device: torch.device) -> dict[str, Any] | None:
    """CUDA, cuDNN and the driver of a GPU run; None on CPU."""
    if device.type != "cuda":
        return None
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "name": torch.cuda.get_device_name(device),
        "capability": ".".join(str(x) for x in torch.cuda.get_device_capability(device)),
        "cuda": torch.version.cuda,
        "cudnn": cudnn,
        "driver": _driver_version(),
    }


def _driver_version() -> str | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        done = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None


def determinism_settings() -> dict[str, Any]:
    """The switches that decide whether two runs of one plan give the same bits."""
    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "threads": torch.get_num_threads(),
    }


def make_deterministic(device: torch.device) -> None:
    """Deterministic kernels on this device: always on CPU, on a GPU when the plan asks.

    cuBLAS reads its workspace setting when its handle is made, so this runs before the model
    touches the GPU.
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC)
        # transformers passes this to flash-attention (2.4.1+), whose backward otherwise adds atomically.
        os.environ.setdefault("FLASH_ATTENTION_DETERMINISTIC", "1")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)


def bit_reproducible(lock: dict[str, Any]) -> bool:
    """Whether a rerun of this run gives the same bits: a CPU run, or a GPU run with determinism on."""
    settings = lock.get("determinism") or {}
    if lock.get("device", {}).get("type") == "cpu":
        return True
    return bool(settings.get("deterministic_algorithms") and settings.get("cublas_workspace_config"))
