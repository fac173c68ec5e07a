"""A trained reward model as a GRPO reward term: it scores prompt + completion with its scalar head."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ftlang.plan.catalogue import reward_model_folder
from ftlang.plan.hashing import sha256_path
from ftlang.plan.models import GrpoMethod, Plan
from ftlang.runtime.errors import RunError
from ftlang.runtime.quiet import quiet_libraries


class RewardModelTerm:
    """Loads the model at its first use, in eval mode, and scores one completion at a time.

    The text is what the reward model learned from: the prompt as rendered, then the completion.
    """

    def __init__(self, root: Path, path: str):
        self.folder = reward_model_folder(root, path)
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            with quiet_libraries():
                self._tokenizer = AutoTokenizer.from_pretrained(self.folder)
                self._model = AutoModelForSequenceClassification.from_pretrained(self.folder).eval()
        except (OSError, ValueError) as e:
            raise RunError(f"cannot load the reward model at {self.folder}: {e}") from None
        if self._model.config.num_labels != 1:
            raise RunError(f"{self.folder} is not a reward model: it has {self._model.config.num_labels} labels")

    @torch.no_grad()
    def __call__(self, prompt: str, completion: str, row: Mapping[str, Any]) -> float:
        if self._model is None:
            self._load()
        ids = self._tokenizer(prompt + completion, return_tensors="pt")
        # The reward model scores as it was trained, in its own dtype: the policy's autocast (GRPO's
        # rollouts run under the plan's precision) would make its scores depend on the policy's levers.
        with torch.autocast("cpu", enabled=False):
            return float(self._model(**ids).logits[0, 0])


def reward_model_pins(plan: Plan) -> list[dict[str, Any]]:
    """For the lock: each reward model a GRPO plan scores with, by path and the sha256 of its weight files."""
    method = plan.method
    if not isinstance(method, GrpoMethod):
        return []
    pins = []
    for reward in method.rewards:
        if reward.kind != "model" or reward.path is None:
            continue
        folder = reward_model_folder(Path(plan.root), reward.path)
        weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        pins.append({"path": reward.path, "weights_sha256": {f.name: sha256_path(f) for f in weights}})
    return pins
