"""Where prepared data lives and how its entries are keyed: shared by the runtime, which writes
them, and `ft plan`, which reads the row counts a past run recorded (no torch, no datasets)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

# Part of every key: a change to how rows are read, rendered, tokenized or packed bumps it, so
# entries written by an older engine are never read as if they were current.
ENGINE_VERSION = 3


def content_key(*parts: Any) -> str:
    """A sha256 over canonical JSON of the parts (and the engine version)."""
    text = json.dumps([ENGINE_VERSION, *parts], sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_root() -> Path:
    """`FTLANG_CACHE`, else `$XDG_CACHE_HOME/ftlang`, else `~/.cache/ftlang`: where, never what."""
    if os.environ.get("FTLANG_CACHE"):
        return Path(os.environ["FTLANG_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ftlang"


def counts_path(data: dict[str, Any], root: Path | None = None) -> Path:
    """The row counts per stage of a data declaration (its Plan JSON, data pinned by hash)."""
    return (root or cache_root()) / "data" / "counts" / f"{content_key('counts', data)[:32]}.json"


def read_counts(data: dict[str, Any]) -> dict[str, Any] | None:
    """What the last run of this declaration counted: `stats` of its rows, `tokens` per split."""
    try:
        counts = json.loads(counts_path(data).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return counts if isinstance(counts, dict) else None
