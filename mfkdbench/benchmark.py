"""Benchmarks: what a search may see (search metric, cost) and what only the report may see.

NB201 conventions (Dong & Yang, ICLR 2020):

========== ================================ ======================================
dataset    search metric (optimizers)       report metric (after the search)
========== ================================ ======================================
cifar10    ``cifar10-valid`` x-valid acc    ``cifar10`` test acc (train+valid model)
cifar100   x-valid acc (half of test set)   x-test acc (other half)
imagenet16 x-valid acc                      x-test acc
========== ================================ ======================================

A :class:`Benchmark` holds both; optimizers never receive it. The simulator
hands the search side to evaluations through an :class:`Objective`, which is
built from the search columns alone, so test accuracy cannot leak into a
search by construction.

Fidelities (:class:`Fidelity`): ``200`` (high fidelity, NB201's 200-epoch
schedule), ``ce12`` (NB201's separate 12-epoch schedule, plain cross-entropy)
and, for CIFAR-10, ``ce12@E`` (accuracy after epoch E of that schedule). Other
low fidelities (knowledge distillation tables) plug in through
:meth:`Benchmark.add_fidelity`.

Cost model, in NB201 seconds: ``200`` costs the recorded 200-epoch training
time. The data records no 12-epoch times, and the 12-epoch schedule trains the
same network on the same data with the same batch size, so ``ce12`` costs
``12/200`` of the 200-epoch time and ``ce12@E`` costs ``E/200`` of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .errors import UserError
from .space import SearchSpace
from .tables import DATASETS, Tables, canonical_dataset, load_tables

HIGH = "200"


@dataclass(frozen=True)
class Fidelity:
    """One way of evaluating an architecture."""

    name: str
    epochs: int
    level: int  # 1 = the target (high) fidelity, 0 = a low fidelity
    description: str


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation reveals to a search: the search score and its cost."""

    score: float
    cost: float


class Objective:
    """Optimizer-facing evaluations: search metric and cost, nothing else.

    It holds copies of the search-score and cost columns only.
    """

    def __init__(self, scores: dict[str, np.ndarray], costs: dict[str, np.ndarray],
                 seed_scores: np.ndarray | None, fidelities: dict[str, Fidelity]):
        self._scores = scores
        self._costs = costs
        self._seed_scores = seed_scores
        self.fidelities = fidelities

    def evaluate(self, index: int, fidelity: str = HIGH, rng: np.random.Generator | None = None) -> Evaluation:
        """Score and cost of NB201 index ``index`` at ``fidelity``.

        With ``rng`` and per-seed data, the high fidelity returns one randomly
        drawn seed's result instead of the mean over seeds.
        """
        if fidelity not in self._scores:
            raise UserError(f"unknown fidelity {fidelity!r}; available: {', '.join(self._scores)}")
        score = self._scores[fidelity][index]
        if rng is not None and fidelity == HIGH and self._seed_scores is not None:
            seeds = self._seed_scores[index]
            seeds = seeds[~np.isnan(seeds)]
            score = seeds[rng.integers(len(seeds))]
        return Evaluation(float(score), float(self._costs[fidelity][index]))


@dataclass
class Benchmark:
    """One NB201 dataset (optionally restricted to a subset of cells)."""

    name: str
    dataset: str
    space: SearchSpace
    tables: Tables = field(repr=False)
    seed_mode: str = "mean"
    fidelities: dict[str, Fidelity] = field(default_factory=dict)
    _scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _costs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.seed_mode not in ("mean", "sample"):
            raise UserError(f"unknown seed mode {self.seed_mode!r}; choose 'mean' or 'sample'")
        t, ds = self.tables, self.dataset
        time_200 = t.get(ds, "time_200")
        self.add_fidelity(Fidelity(HIGH, 200, 1, "200-epoch validation accuracy"), t.get(ds, "val_acc_200"), time_200)
        if t.has(ds, "val_acc_12"):
            self.add_fidelity(Fidelity("ce12", 12, 0, "12-epoch schedule, cross-entropy, validation accuracy"),
                              t.get(ds, "val_acc_12"), time_200 * 12 / 200)
        if t.has(ds, "curve_12"):
            curve = t.get(ds, "curve_12")
            for e in range(1, 13):
                self.add_fidelity(
                    Fidelity(f"ce12@{e}", e, 0, f"12-epoch schedule after epoch {e} (test split of that separate short run)"),
                    curve[:, e - 1], time_200 * e / 200)

    # ---- search side ------------------------------------------------------
    def add_fidelity(self, fidelity: Fidelity, scores: np.ndarray, costs: np.ndarray) -> None:
        """Register a fidelity: a search score and a cost (NB201 seconds) per NB201 index."""
        self.fidelities[fidelity.name] = fidelity
        self._scores[fidelity.name] = np.asarray(scores, dtype=np.float64)
        self._costs[fidelity.name] = np.asarray(costs, dtype=np.float64)

    def objective(self) -> Objective:
        """The search side only, for evaluations inside a search (read-only views: no copy per run)."""
        seeds = None
        if self.seed_mode == "sample":
            seeds = _read_only(self.tables.get(self.dataset, "val_acc_200_seeds"))
        return Objective({k: _read_only(v) for k, v in self._scores.items()},
                         {k: _read_only(v) for k, v in self._costs.items()}, seeds, dict(self.fidelities))

    def fidelity(self, name: str) -> Fidelity:
        if name not in self.fidelities:
            raise UserError(f"fidelity {name!r} is not available for {self.name} from "
                            f"'{self.tables.meta.get('source')}'; available: {', '.join(self.fidelities)}")
        return self.fidelities[name]

    def score(self, index: int, fidelity: str = HIGH) -> float:
        """Search metric (mean over seeds)."""
        self.fidelity(fidelity)
        return float(self._scores[fidelity][index])

    def cost(self, index: int, fidelity: str = HIGH) -> float:
        self.fidelity(fidelity)
        return float(self._costs[fidelity][index])

    # ---- report side (never given to optimizers) ---------------------------
    @property
    def report_metric(self) -> str:
        """``test_acc_200`` where the data has it, else ``val_acc_200`` (flagged in every output)."""
        return "test_acc_200" if self.tables.has(self.dataset, "test_acc_200") else "val_acc_200"

    def report(self, index) -> np.ndarray | float:
        """Report metric of one or many NB201 indices."""
        values = self.tables.get(self.dataset, self.report_metric)[index]
        return float(values) if np.ndim(values) == 0 else values

    @property
    def optimum(self) -> float:
        """Best report metric (mean over seeds) among the cells this benchmark searches."""
        return float(np.nanmax(self.report(self.space.candidates)))

    @property
    def best_index(self) -> int:
        cands = self.space.candidates
        return int(cands[np.nanargmax(self.report(cands))])

    def restricted(self, name: str, indices) -> Benchmark:
        """The same benchmark searching only ``indices``, under a new name."""
        bench = Benchmark(name, self.dataset, self.space.restrict(indices), self.tables, self.seed_mode)
        for fid in self.fidelities.values():
            bench.add_fidelity(fid, self._scores[fid.name], self._costs[fid.name])
        return bench


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


#: named subsets: name -> function(tables) -> Benchmark; later modules add entries
SUBSET_BENCHMARKS: dict = {}


def _kd240(tables: Tables, seed_mode: str) -> Benchmark:
    from .lowfi import kd240

    return kd240(tables, seed_mode)


SUBSET_BENCHMARKS["cifar100-kd240"] = _kd240


@lru_cache(maxsize=4)
def _tables_for(data: str | None) -> Tables:
    return load_tables(data)


def benchmark_names() -> list[str]:
    return list(DATASETS) + list(SUBSET_BENCHMARKS)


def load_benchmark(name: str, data: str | None = None, seed_mode: str = "mean") -> Benchmark:
    """A benchmark by name: a dataset (``cifar10``, ``ImageNet16-120`` ...) or a named subset."""
    tables = _tables_for(data)
    if name in SUBSET_BENCHMARKS:
        return SUBSET_BENCHMARKS[name](tables, seed_mode)
    try:
        dataset = canonical_dataset(name)
    except UserError:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(benchmark_names())}") from None
    return Benchmark(dataset, dataset, SearchSpace(tables.index_codes), tables, seed_mode)
