"""Shared by the training benchmarks: synthetic text, JSON Lines files, throughput from a run directory."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _lexicon(rng: random.Random, size: int) -> list[str]:
    """Pseudo-words from consonant-vowel syllables: enough distinct words for a large BPE vocab."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "sh", "st", "ng"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(syllables, k=rng.choice((1, 2, 2, 3, 3, 4)))))
    return sorted(words)


def text_writer(seed: int, lexicon: int = 20_000) -> Callable[[int], str]:
    """`write(n)` gives n Zipf-distributed words, as in natural text: a few common, a long tail."""
    rng = random.Random(seed)
    words = _lexicon(rng, lexicon)
    cum, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 1)
        cum.append(total)
    return lambda n: " ".join(rng.choices(words, cum_weights=cum, k=n))


def long_tailed(rng: random.Random, median: float, sigma: float, cap: int) -> int:
    """A log-normal length: most short, a few long (document and chat lengths look like this)."""
    return max(3, min(cap, int(rng.lognormvariate(0.0, sigma) * median)))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def run_rate(run_dir: Path, warmup: int) -> float:
    """Tokens/s of a run over the logged steps after `warmup`, from its metrics.jsonl.

    `tokens` and `elapsed` are cumulative, so the difference between the first record at or
    past `warmup` and the last leaves out start-up (allocator growth, kernel selection).
    """
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    start = next(r for r in steps if r["step"] >= warmup)
    end = steps[-1]
    return (end["tokens"] - start["tokens"]) / (end["elapsed"] - start["elapsed"])
