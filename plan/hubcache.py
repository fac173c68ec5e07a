"""Where `datasets` keeps a hub dataset it has prepared: found by path alone, without importing it.

`datasets.load_dataset("org/name", "config", revision=…)` writes the prepared Arrow files to
`<HF_DATASETS_CACHE>/org___name/<config>/<version>/<commit>/` beside a `dataset_info.json`
(features and splits). `ft check` reads that folder to check fields; the runtime checks the
same folder holds the pinned commit before `load_dataset` reads it (offline it reads the
newest cached one and ignores `revision`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def datasets_cache() -> Path:
    """The cache `datasets` itself uses: HF_DATASETS_CACHE, else HF_HOME/datasets, else ~/.cache."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "datasets"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "huggingface" / "datasets"


def _snake(name: str) -> str:
    """datasets' camelcase_to_snakecase, which names the cache folder of a dataset."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", name).lower()


@dataclass(frozen=True)
class CachedDataset:
    """One prepared config of a hub dataset at one commit."""

    folder: Path
    config: str
    commit: str
    info: dict[str, Any]

    @property
    def splits(self) -> list[str]:
        return sorted(self.info.get("splits") or {})

    @property
    def features(self) -> list[str]:
        return list(self.info.get("features") or {})

    def rows_in(self, split: str) -> int | None:
        rows: int | None = (self.info.get("splits") or {}).get(split, {}).get("num_examples")
        return rows

    def arrow_files(self, split: str) -> list[Path]:
        whole = sorted(self.folder.glob(f"*-{split}.arrow"))
        return whole or sorted(self.folder.glob(f"*-{split}-[0-9]*-of-[0-9]*.arrow"))


@dataclass(frozen=True)
class Lookup:
    """What the cache holds for an id: the entry asked for, or what there is instead."""

    found: CachedDataset | None
    configs: tuple[str, ...] = ()  # cached configs of the id (empty: the id is not cached)
    commits: tuple[str, ...] = ()  # cached commits of the config asked for


def find(hub_id: str, config: str | None, revision: str | None) -> Lookup:
    """The newest cached commit of `config` (or the one `revision` names, by prefix)."""
    org, _, name = hub_id.partition("/")
    root = datasets_cache() / f"{org}___{_snake(name)}"
    entries: list[tuple[float, CachedDataset]] = []
    for info_file in root.glob("*/*/*/dataset_info.json"):
        folder = info_file.parent
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        entries.append((info_file.stat().st_mtime, CachedDataset(folder, folder.parts[-3], folder.name, info)))
    configs = tuple(sorted({e.config for _, e in entries}))
    wanted = config or "default"
    mine = sorted((e for e in entries if e[1].config == wanted), key=lambda e: e[0], reverse=True)
    commits = tuple(e.commit for _, e in mine)
    if revision:
        mine = [e for e in mine if e[1].commit.startswith(revision) or e[1].commit == revision]
    return Lookup(mine[0][1] if mine else None, configs, commits)


def fetch_command(hub_id: str, config: str | None, split: str, revision: str | None) -> str:
    """The one line, run where the hub is reachable, that puts the dataset in the cache."""
    args = [repr(hub_id)] + ([repr(config)] if config else []) + [f"split={split!r}"]
    if revision:
        args.append(f"revision={revision!r}")
    return f'python -c "import datasets; datasets.load_dataset({", ".join(args)})"'
