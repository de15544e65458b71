"""REA warmed up by a zero-cost ranking ("REA+W": Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021, Sec. 5; as run by ELO-Lab/MF-NAS, ``algos/sonas/rea.py`` ``run_warm_up`` and ``configs/algo_201.yaml``).

Warm-up: score ``n_warmup`` distinct random cells by a training-free fidelity
(``metric``: params, flops, zen or naswot; the paper's is synflow, which the data
here has for ~725 cells only) and seed REA's population with the best
``population_size`` of them instead of random cells; then regularized evolution
as ``rea`` (:mod:`baselines.rea`, NATS-Bench's population 10 and tournament 3), at
the fidelity after ``@`` (``rea-zc@200``, ``rea-zc@ce12``). Defaults: 2,000
warm-up cells, MF-NAS's NB201 setting for REA+W. The warm-up is charged by the
cost model of docs/data.md (params and FLOPs free). With several workers the
warm-up fills every worker, and cells asked while the seeded population's
results are still out are random, as ``rea`` does asynchronously.
"""
from __future__ import annotations

from mfkdbench.search.optimizer import Range, register
from mfkdbench.search.proxy_ranking import ProxyRanking, training_free_metric

from .rea import RegularizedEvolution


@register("rea-zc")
class WarmedUpREA(RegularizedEvolution):
    """REA whose first population is the best of a training-free ranking."""

    training_free = True
    option_probes = {"metric": "naswot", "n_warmup": 200, "population_size": 20, "sample_size": 5}
    option_ranges = {"n_warmup": Range(1, integer=True)}
    #: the first 2,000 evaluations are the free warm-up ranking; evolution acts after them
    probe_evaluations = 2100

    def __init__(self, space, fidelities, rng, metric: str = "params", n_warmup: int = 2000, **options):
        super().__init__(space, fidelities, rng, **options)
        self.ranking = ProxyRanking(space, training_free_metric(self.name, self.fidelities, metric), n_warmup, rng)
        self.seeds: list[int] | None = None  # the warm population, once ranked

    def ask(self):
        if self.seeds is None:
            return self.ranking.ask()  # None while the last scores are out
        if self.seeds:
            return self.seeds.pop(0), self.high
        return super().ask()

    def tell(self, trial, score, cost):
        if trial.fidelity == self.ranking.metric:
            self.ranking.tell(trial.index, score)
            if self.ranking.done:
                self.seeds = self.ranking.top(self.population_size)
            return
        super().tell(trial, score, cost)
