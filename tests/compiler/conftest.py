"""Compiler test setup: hub datasets and models are read from the repository's own caches.

tests/data/hubcache holds `acme/support-tickets` as `datasets.load_dataset` leaves a hub
dataset in its cache (see tests/hubdata.py), and `acme/broken-chat` as huggingface_hub leaves a
model (`models--…/snapshots/<commit>`), so golden cases and the language doc's examples check
`hf(…)` data and models offline and alike on every machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HUB_CACHE = Path(__file__).resolve().parents[1] / "data" / "hubcache"


@pytest.fixture(autouse=True)
def hub_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(HUB_CACHE))
    monkeypatch.setenv("HF_HUB_CACHE", str(HUB_CACHE))
