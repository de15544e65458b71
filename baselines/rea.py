"""Regularized (aging) evolution, REA (Real et al., AAAI 2019), as run on NB201 / NATS-Bench.

Defaults from NATS-Bench's ``exps/NATS-algos/run-all.sh`` (AutoDL-Projects):
population 10, tournament sample size 3 (NB201's ``scripts-search/algos/R-EA.sh``
takes the sample size as an argument; its usage line and NATS-Bench use 3).
Mutation as NB201's ``mutate_arch_func``: pick a node uniformly, one of its
incoming edges uniformly, and a different operation uniformly.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from mfkdbench.search.optimizer import Optimizer, Range, register
from mfkdbench.nb201.space import EDGES, N_OPS, ops_to_codes

#: cumulative probability of mutating each edge: node uniform among 1..3, then one of its incoming edges
EDGE_CDF = np.cumsum([1.0 / (3 * to_node) for to_node, _ in EDGES])


@register("rea")
class RegularizedEvolution(Optimizer):
    """Aging evolution: tournament parent, one-edge mutation, the oldest member dies.

    Asynchronous use: until ``population_size`` results are in, it proposes
    random cells; afterwards each proposal mutates a tournament winner of the
    current population (results arriving out of order join in arrival order).
    """

    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"population_size": 20, "sample_size": 5}
    option_ranges = {"population_size": Range(1, integer=True), "sample_size": Range(1, integer=True)}

    def __init__(self, space, fidelities, rng, population_size: int = 10, sample_size: int = 3, **options):
        super().__init__(space, fidelities, rng, **options)
        self.population_size, self.sample_size = int(population_size), int(sample_size)
        self.population: deque[tuple[int, float]] = deque()

    def ask(self):
        if len(self.population) < self.population_size:
            return int(self.space.sample(self.rng)), self.high
        picks = self.rng.integers(len(self.population), size=self.sample_size)
        parent = max((self.population[i] for i in picks), key=lambda member: member[1])
        return self.mutate(parent[0]), self.high

    def mutate(self, index: int) -> int:
        """A one-edge mutation of ``index``; if the child is not in the (restricted) search space, one of the
        candidates nearest to the child (``index`` excluded), so that a sparse space is searched by the
        same local moves as the full one (a random cell if the space holds no other cell)."""
        ops = self.space.ops([index])[0]
        edge = min(int(np.searchsorted(EDGE_CDF, self.rng.random(), side="right")), len(EDGES) - 1)
        new_op = int(self.rng.integers(N_OPS - 1))
        ops[edge] = new_op + (new_op >= ops[edge])
        code = int(ops_to_codes(ops[None])[0])
        child = int(self.space.code_index[code])
        if child in self.space:
            return child
        nearest = self.space.nearest(code, exclude=index)
        if len(nearest) == 0:
            return int(self.space.sample(self.rng))
        return int(nearest[self.rng.integers(len(nearest))])

    def tell(self, trial, score, cost):
        self.population.append((trial.index, -math.inf if math.isnan(score) else score))
        if len(self.population) > self.population_size:
            self.population.popleft()
