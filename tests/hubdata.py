"""A hub dataset in the local `datasets` cache, laid out as `load_dataset("org/name")` leaves it.

No hub is reachable in tests: the dataset is prepared by `datasets`' own json builder and put
where a download of `org/name` at `commit` would have put it, so offline `load_dataset`, the
checker's cache reader and the runtime all read it through their real code paths.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

COMMIT = "5f0b02c0ffee0ddba11c0ffee0ddba11c0ffee00"


def cache_hub_dataset(
    cache: Path,
    hub_id: str,
    splits: dict[str, list[dict[str, Any]]],
    *,
    config: str = "default",
    commit: str = COMMIT,
) -> Path:
    """Write `splits` as the cached dataset `hub_id` (config, commit) under the `datasets` cache `cache`."""
    import datasets

    org, name = hub_id.split("/")
    work = cache / ".build" / name
    work.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, rows in splits.items():
        files[split] = str(work / f"{split}.jsonl")
        Path(files[split]).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    builder = datasets.load_dataset_builder("json", data_files=files, cache_dir=str(work / "cache"))
    builder.download_and_prepare()
    built = Path(builder.cache_dir)
    target = cache / f"{org}___{name}" / config / "0.0.0" / commit
    target.mkdir(parents=True, exist_ok=True)
    info = json.loads((built / "dataset_info.json").read_text(encoding="utf-8"))
    info.update(dataset_name=name, config_name=config)
    for split_info in info["splits"].values():
        split_info["dataset_name"] = name
    (target / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    for split in splits:
        shutil.copy(built / f"json-{split}.arrow", target / f"{name}-{split}.arrow")
    shutil.rmtree(cache / ".build")
    return target
