"""The order in which training items are taken: a seeded permutation per epoch, resumable."""

from __future__ import annotations

from typing import Any

import torch


class DataOrder:
    """Which items each step takes: a fresh permutation per epoch from its own generator.

    Its own torch.Generator keeps the data order independent of dropout and init draws,
    and its state (with the current permutation and position) goes into checkpoints.
    """

    def __init__(self, n: int, seed: int):
        self.n = n
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.pos = 0
        self.perm = torch.randperm(n, generator=self.gen).tolist()

    def take(self, k: int) -> list[int]:
        # An epoch's last batch may be short; batches never straddle two epochs.
        if self.pos >= self.n:
            self.epoch += 1
            self.pos = 0
            self.perm = torch.randperm(self.n, generator=self.gen).tolist()
        idx = self.perm[self.pos : self.pos + k]
        self.pos += len(idx)
        return idx

    def upcoming(self, k: int) -> list[int] | None:
        """What the next take(k) returns, without taking it; None when it starts a new epoch
        (its permutation is not drawn yet)."""
        return self.perm[self.pos : self.pos + k] if self.pos < self.n else None

    def state_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "epoch": self.epoch,
            "pos": self.pos,
            "perm": list(self.perm),
            "generator": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert state["n"] == self.n, "the checkpoint was made with other data"
        self.epoch, self.pos, self.perm = state["epoch"], state["pos"], list(state["perm"])
        self.gen.set_state(state["generator"])
