"""The data cache: prepared rows and tokens on disk, keyed by the content of everything they depend on."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ftlang.plan.datacache import cache_root, content_key, counts_path

# Written last into an entry: a folder without it is a build that was killed half-way.
_DONE = "done.json"


def tokenizer_digest(tokenizer: Any) -> str:
    """The tokenizer's content: its vocabulary, merges, normalizer and post-processor (the
    tokenizer.json it would save), its chat template and special tokens. Its folder is left
    out, so the same tokenizer saved in two run directories hits the same cache entry."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    settings = {
        k: v for k, v in getattr(tokenizer, "init_kwargs", {}).items() if k not in ("name_or_path", "tokenizer_file")
    }
    return content_key(
        type(tokenizer).__name__,
        _backend_content(backend) if backend is not None else repr(getattr(tokenizer, "get_vocab", dict)()),
        getattr(tokenizer, "chat_template", None),
        getattr(tokenizer, "special_tokens_map", {}),
        settings,
    )


def _backend_content(backend: Any) -> Any:
    # A call with truncation or padding sets them on the backend: state of the last call, not content.
    saved = json.loads(backend.to_str())
    return {k: v for k, v in saved.items() if k not in ("truncation", "padding")}


class DataCache:
    """Entries `<root>/data/<stage>-<key>/`, each built in a temporary folder and renamed into place."""

    def __init__(self, root: Path | None = None, *, quiet: bool = False):
        self.root = (root or cache_root()) / "data"
        self.quiet = quiet

    def path(self, stage: str, key: str) -> Path:
        return self.root / f"{stage}-{key[:32]}"

    def lookup(self, stage: str, key: str) -> Path | None:
        entry = self.path(stage, key)
        return entry if (entry / _DONE).exists() else None

    def build(self, stage: str, key: str, write: Callable[[Path], dict[str, Any]]) -> Path:
        """Run `write(folder)`; its returned metadata marks the entry complete."""
        entry = self.path(stage, key)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".tmp-{stage}-"))
        try:
            meta = write(tmp)
            (tmp / _DONE).write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
            if entry.exists():  # a stale half-built entry, or another process won the race
                if (entry / _DONE).exists():
                    shutil.rmtree(tmp)
                    return entry
                shutil.rmtree(entry)
            tmp.rename(entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return entry

    def meta(self, entry: Path) -> dict[str, Any]:
        return json.loads((entry / _DONE).read_text(encoding="utf-8"))

    @contextlib.contextmanager
    def bars(self) -> Iterator[None]:
        """`datasets`' own progress bars for the stages it runs, off in a quiet run."""
        from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

        was = is_progress_bar_enabled()
        if self.quiet:
            disable_progress_bar()
        try:
            yield
        finally:
            if was:
                enable_progress_bar()

    def record_counts(self, data: dict[str, Any], **counts: Any) -> None:
        """Merge counts (`stats` of the rows, `tokens` of a split) into the file `ft plan` reads."""
        path = counts_path(data, self.root.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        for name, value in counts.items():
            known[name] = {**known.get(name, {}), **value} if isinstance(value, dict) else value
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def say(self, text: str) -> None:
        """One line of the run log on stderr (the progress bars' stream)."""
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)
