"""'Did you mean': candidates within a small restricted Damerau-Levenshtein distance."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insert, delete, substitute, swap neighbours."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def suggest(name: str, candidates: Iterable[str]) -> list[str]:
    """Close candidates, nearest first: distance <= 1 for short names, else <= 2."""
    # Two edits in a word of four letters leave half of it: `rank` is not a typo of `pack`.
    limit = 1 if len(name) <= 4 else 2
    lowered = name.lower()
    scored = []
    for candidate in set(candidates):
        distance = edit_distance(lowered, candidate.lower())
        # A candidate that contains the name whole (lr ⊂ lr_scale) is a good guess too.
        contains = (
            len(name) >= 3 and len(candidate) >= 3 and (lowered in candidate.lower() or candidate.lower() in lowered)
        )
        if distance <= limit or contains:
            scored.append((distance, candidate))
    return [c for _, c in sorted(scored)]


# What other fine-tuning tools call our fields: people bring these names along.
ALIASES = {
    "learning_rate": "lr",
    "num_epochs": "epochs",
    "num_train_epochs": "epochs",
    "batch_size": "batch",
    "per_device_train_batch_size": "micro_batch",
    "micro_batch_size": "micro_batch",
    "gradient_accumulation_steps": "micro_batch",
    "max_seq_length": "max_len",
    "sequence_len": "max_len",
    "max_length": "max_len",
    "lr_scheduler": "schedule",
    "lr_scheduler_type": "schedule",
    "warmup_ratio": "schedule",
    "warmup_steps": "schedule",
    "r": "rank",
    "lora_r": "rank",
    "lora_alpha": "alpha",
    "lora_dropout": "dropout",
    "target_modules": "targets",
    "lora_target_modules": "targets",
    "sample_packing": "pack",
    "packing": "pack",
    "max_grad_norm": "grad_clip",
    "save_steps": "checkpoint_every",
    "eval_steps": "eval_every",
    "logging_steps": "log_every",
    "num_labels": "labels",
}


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A ready `help` line, or None when nothing is close."""
    candidates = list(candidates)
    found = suggest(name, candidates)
    if not found:
        found = [ALIASES[alias] for alias in suggest(name, ALIASES) if ALIASES[alias] in candidates][:1]
    if not found:
        return None
    return "did you mean " + " or ".join(f"`{c}`" for c in found[:2]) + "?"
