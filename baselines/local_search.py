"""Local search (White, Nolen, Siems, Grabocka & Hutter, "Exploring the loss landscape in
neural architecture search" / "Local search is state of the art for NAS benchmarks", 2020/2021).

The variant of NASLib's ``LocalSearch`` (best improvement): start from the
best of ``num_init`` random cells (default 1: the search climbs from its
first cell at once; NASLib's default is 10 random cells first, ``num_init=10``
here), evaluate the whole one-edge neighbourhood
of the current cell in random order (on a restricted space, the cells nearest to each one-edge
mutation that is not in it: ``SearchSpace.neighbourhood``), move to the best neighbour if it beats
the current cell, otherwise (a local optimum) restart from a new random cell.
Cells already evaluated are not evaluated again (their scores are reused), so
a small search space runs out: ``ask`` then returns ``None``.
"""
from __future__ import annotations

import math

import numpy as np

from mfkdbench.search.optimizer import Optimizer, Range, register


@register("local-search")
class LocalSearch(Optimizer):
    """Hill climbing over one-edge neighbourhoods with random restarts."""

    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"num_init": 5}
    option_ranges = {"num_init": Range(1, integer=True)}

    def __init__(self, space, fidelities, rng, num_init: int = 1, **options):
        super().__init__(space, fidelities, rng, **options)
        self.num_init = int(num_init)
        self.scores: dict[int, float] = {}  # told results (NaN -> -inf)
        self.proposed: set[int] = set()
        self.pending: set[int] = set()
        self.queue: list[int] = []
        self.batch: list[int] = []  # the random starts of the current (re)start
        self.center: int | None = None

    def ask(self):
        if not self.queue and not self.pending:
            self._advance()
        if not self.queue:
            return None  # waiting for results, or the space is exhausted
        index = self.queue.pop()
        self.proposed.add(index)
        self.pending.add(index)
        return index, self.high

    def tell(self, trial, score, cost):
        self.pending.discard(trial.index)
        self.scores[trial.index] = -math.inf if math.isnan(score) else score

    def _advance(self) -> None:
        """Plan the next proposals once every earlier one has a result."""
        while not self.queue:
            if self.center is None and self.batch:
                self.center = max(self.batch, key=self.scores.__getitem__)
                self.batch = []
            elif self.center is not None:
                neighbours = self.space.neighbourhood(self.center)
                best = max(neighbours, key=lambda i: self.scores[i], default=None)
                if best is not None and self.scores[best] > self.scores[self.center]:
                    self.center = int(best)
                else:
                    self.center = None  # local optimum: restart
            if self.center is None:
                self.batch = self._unvisited(self.num_init if not self.scores else 1)
                if not self.batch:
                    return  # every cell has been evaluated
                self.queue = list(self.batch)
            else:
                fresh = [int(i) for i in self.space.neighbourhood(self.center) if int(i) not in self.proposed]
                self.queue = [fresh[i] for i in self.rng.permutation(len(fresh))]

    def _unvisited(self, n: int) -> list[int]:
        """Up to ``n`` distinct random cells not proposed before."""
        out: list[int] = []
        for _ in range(20 * n):
            if len(out) == n:
                return out
            index = int(self.space.sample(self.rng))
            if index not in self.proposed and index not in out:
                out.append(index)
        rest = np.setdiff1d(self.space.candidates, np.fromiter(self.proposed, dtype=np.int64))
        rest = rest[~np.isin(rest, out)]
        extra = self.rng.choice(rest, size=min(n - len(out), len(rest)), replace=False)
        return out + [int(i) for i in extra]
