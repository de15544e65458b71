"""Bookkeeping of the NB201 indices a search has already used, and uniform draws among the others.

Searches that must not propose a cell twice (Hyperband/BOHB configurations,
BANANAS candidates) share this, so that a small restricted space runs out
cleanly: :meth:`UnseenSampler.draw` returns ``None`` once every candidate is used.
"""
from __future__ import annotations

import numpy as np

from mfkdbench.nb201.space import N_ARCHS, SearchSpace

_REJECTION_TRIES = 32


class UnseenSampler:
    """Uniformly random NB201 indices of ``space`` not marked as used yet."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.used = np.zeros(N_ARCHS, dtype=bool)
        self.n_used = 0

    def mark(self, index: int) -> None:
        """Record ``index`` as used."""
        if not self.used[index]:
            self.used[index] = True
            self.n_used += 1

    @property
    def exhausted(self) -> bool:
        return self.n_used >= len(self.space)

    def draw(self, rng: np.random.Generator) -> int | None:
        """A uniformly random unused candidate (marked as used), or ``None`` if none is left.

        Rejection sampling while most of the space is free, then an explicit
        draw among the free candidates; both are uniform over the free ones.
        """
        if self.exhausted:
            return None
        for _ in range(_REJECTION_TRIES):
            index = int(self.space.sample(rng))
            if not self.used[index]:
                self.mark(index)
                return index
        free = self.space.candidates[~self.used[self.space.candidates]]
        index = int(free[rng.integers(len(free))])
        self.mark(index)
        return index
