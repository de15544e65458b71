"""The training-free stage that ``mf-nas`` and ``rea-zc`` share: score cells by a proxy, rank them.

A :class:`ProxyRanking` evaluates ``n`` cells at one training-free fidelity
(``params``, ``flops``, ``zen``, ``naswot``: :mod:`mfkdbench.nb201.benchmark`) and
ranks the distinct cells it saw, higher scores first, as MF-NAS
(``np.flip(np.argsort(...))`` in ELO-Lab/MF-NAS) and Abdelfattah et al.'s warm-up
do. A NaN score (NASWOT of a disconnected cell) ranks last; ties keep the order
the cells were first scored in. Two ways to choose the cells:

* ``random``: ``n`` distinct random cells (all of a smaller space); any number
  of them may be out at once;
* ``local``: MF-NAS's first-improvement iterated local search on the proxy
  (``algos/sonas/local_search.py``): from a random cell, the edges in random
  order, on each edge the other four operations in turn, moving to the first
  strictly better neighbour; with no better one-edge neighbour, a jump to a
  two-edge neighbour (a random pair of edges, the first pair of other
  operations inside the space); ``n`` evaluations, a cell scored again when
  the walk revisits it (the authors' count), one evaluation out at a time.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Generator, Mapping

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.benchmark import Fidelity
from mfkdbench.nb201.space import N_EDGES, N_OPS, SearchSpace, ops_to_codes
from mfkdbench.search.sampling import UnseenSampler

WALKS = ("local", "random")


def training_free_metric(name: str, fidelities: Mapping[str, Fidelity], metric: str) -> str:
    """``metric`` if it is a training-free fidelity on offer, else one ``UserError`` line naming those on offer."""
    offered = [n for n, f in fidelities.items() if f.training_free]
    if metric not in offered:
        raise UserError(f"{name}: metric must be a training-free fidelity on offer "
                        f"({', '.join(offered) or 'none in this data'}), got {metric!r}")
    return metric


class ProxyRanking:
    """Scores ``n`` cells of ``space`` at ``metric`` through ask/tell (module docstring), then ranks them."""

    def __init__(self, space: SearchSpace, metric: str, n: int, rng: np.random.Generator, walk: str = "random"):
        if int(n) != n or n < 1:
            raise UserError(f"the number of cells to score by {metric} must be a positive integer, got {n}")
        if walk not in WALKS:
            raise UserError(f"unknown stage-1 walk {walk!r}; choose one of {', '.join(WALKS)}")
        self.space, self.metric, self.rng, self.walk = space, metric, rng, walk
        self.n = min(int(n), len(space)) if walk == "random" else int(n)
        self.sampler = UnseenSampler(space)
        self.local = self.local_search() if walk == "local" else None
        self.asked = 0
        self.scores: dict[int, tuple[float, int]] = {}  # index -> (-score, first seen), the distinct cells
        self.told = 0
        self.last: float | None = None  # the local walk's last score, sent into it at the next ask

    def ask(self) -> tuple[int, str] | None:
        """The next cell to score, or ``None`` (all ``n`` asked, or the local walk waits for its last score)."""
        if self.asked == self.n or (self.local is not None and self.told < self.asked):
            return None
        self.asked += 1
        if self.local is None:
            return self.sampler.draw(self.rng), self.metric
        return (next(self.local) if self.last is None else self.local.send(self.last)), self.metric

    def tell(self, index: int, score: float) -> None:
        self.told += 1
        self.last = -math.inf if math.isnan(score) else float(score)
        self.scores.setdefault(int(index), (-self.last, len(self.scores)))

    @property
    def done(self) -> bool:
        """Every evaluation told."""
        return self.told == self.n

    def top(self, k: int) -> list[int]:
        """The ``k`` best distinct cells, best first."""
        return sorted(self.scores, key=self.scores.__getitem__)[:k]

    def local_search(self) -> Generator[int, float, None]:
        """MF-NAS's first-improvement iterated local search: yields cells, receives their scores."""
        current = int(self.space.sample(self.rng))
        best = yield current
        while True:
            improved = False
            edges = list(range(N_EDGES))
            while edges and not improved:
                edge = edges.pop(int(self.rng.integers(len(edges))))
                for cell in self.variants(current, (edge,)):
                    score = yield cell
                    if score > best:
                        current, best, improved = cell, score, True
                        break
            if not improved:
                current = self.jump(current)
                best = yield current

    def jump(self, index: int) -> int:
        """A two-edge neighbour of ``index`` (a random pair of edges with one), else a random cell."""
        pairs = list(itertools.combinations(range(N_EDGES), 2))
        while pairs:
            pair = pairs.pop(int(self.rng.integers(len(pairs))))
            variants = self.variants(index, pair)
            if variants:
                return variants[0]
        return int(self.space.sample(self.rng))

    def variants(self, index: int, edges: tuple[int, ...]) -> list[int]:
        """Cells of the space that differ from ``index`` on every edge of ``edges`` (other operations in code
        order, the first edge's slowest)."""
        ops = self.space.ops([index])[0]
        out = []
        for new in itertools.product(*[[o for o in range(N_OPS) if o != ops[e]] for e in edges]):
            changed = ops.copy()
            changed[list(edges)] = new
            cell = int(self.space.code_index[ops_to_codes(changed[None])[0]])
            if cell in self.space:
                out.append(cell)
        return out
