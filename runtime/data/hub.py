"""Hub datasets: `hf("org/name", config, split, revision)` read through `datasets.load_dataset`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ftlang.plan import hubcache
from ftlang.plan.models import HubData
from ftlang.runtime.errors import RunError

Raw = tuple[str, "dict[str, Any] | None", str]


def _pinned(src: HubData, name: str) -> hubcache.CachedDataset | None:
    """The cached entry the plan pinned, or None online (where `load_dataset` downloads it).

    Offline, `load_dataset` reads the newest cached commit whatever `revision` says; a plan
    must train on the commit it was checked against, so a missing one is an error here.
    """
    from huggingface_hub.constants import HF_HUB_OFFLINE

    wanted = src.commit or src.revision
    found = hubcache.find(src.id, src.config, wanted).found
    if found is None and HF_HUB_OFFLINE:
        raise RunError(
            f"the hub dataset `{src.id}`"
            + (f" (config `{src.config}`)" if src.config else "")
            + (f" at `{wanted}`" if wanted else "")
            + f" is not in the datasets cache {hubcache.datasets_cache()}",
            location=f"data `{name}`",
            help="fetch it where the hub is reachable: "
            + hubcache.fetch_command(src.id, src.config, src.split, wanted),
        )
    return found


def hub_rows(src: HubData, name: str) -> tuple[Iterator[Raw], list[dict[str, str]]]:
    """The split's rows (origin `org/name[split] row N`) and what the lock records of it."""
    import datasets

    found = _pinned(src, name)
    try:
        ds = datasets.load_dataset(
            src.id,
            src.config,
            split=src.split,
            revision=src.commit or src.revision,
            cache_dir=str(hubcache.datasets_cache()),  # the cache `ft check` read, whatever datasets imported with
        )
    except Exception as e:  # ConnectionError, FileNotFoundError, ValueError (unknown config or split)
        raise RunError(f"cannot load the hub dataset `{src.id}`: {e}", location=f"data `{name}`") from None
    if not isinstance(ds, datasets.Dataset):
        raise RunError(f"`{src.id}` split `{src.split}` is not one table", location=f"data `{name}`")
    if found is not None and ds.cache_files and found.folder.as_posix() not in ds.cache_files[0]["filename"]:
        raise RunError(
            f"`datasets` read `{src.id}` from another cached commit than {found.commit[:12]}",
            location=f"data `{name}`",
            help="remove the other commits of this dataset from the cache, or pin that one",
        )
    commit = found.commit if found else (src.commit or src.revision or "")
    shown = f"{src.id}[{src.split}]"
    lock = {
        "path": f"hf://{src.id}" + (f"/{src.config}" if src.config else "") + f"[{src.split}]",
        "sha256": ds._fingerprint,  # the lock's content identity of a file; `datasets`' own for a table
        "revision": commit,
        "fingerprint": ds._fingerprint,
    }

    def rows() -> Iterator[Raw]:
        at = 0
        for batch in ds.iter(batch_size=1000):
            columns = list(batch)
            for values in zip(*batch.values(), strict=True):
                at += 1
                yield f"{shown} row {at}", dict(zip(columns, values, strict=True)), ""

    return rows(), [lock]
