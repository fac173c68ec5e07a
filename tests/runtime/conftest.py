"""Runtime test setup: offline hub, one torch thread (steady timings on a shared 2-core box)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

# Two intra-op threads on two cores that other processes also use make every barrier wait
# for a descheduled thread (measured 4-8x slower); one thread is steady.
torch.set_num_threads(int(os.environ.get("FTLANG_TEST_THREADS", "1")))
