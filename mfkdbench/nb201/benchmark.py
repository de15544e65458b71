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
and, for CIFAR-10, ``ce12@E`` (accuracy after epoch E of that schedule). Each
fidelity says which images it was measured on (``measured_on``): ``ce12@E`` is
the CIFAR-10 *test* accuracy of that short run, the same images as the report
metric, so it is there for analysis only (``mfkdbench arch``, the correlation
study): :meth:`Benchmark.objective` and
:func:`mfkdbench.search.simulator.search_fidelities` never offer a fidelity
measured on test images. Other
low fidelities (knowledge distillation tables, stores) come as
:class:`FidelityTable` objects from :mod:`mfkdbench.lowfi`, and one trained on
demand during a search as a :class:`LazyFidelity` (its score and cost resolved
when a search first asks for a cell); a benchmark is
assembled with all its fidelities at once (:func:`mfkdbench.lowfi.catalog.load_benchmark`).

Training-free fidelities (``Fidelity.training_free``, zero epochs): ``params``
and ``flops`` (the architecture alone), ``zen`` (Zen-NAS on Gaussian inputs)
and ``naswot`` (NASWOT on one minibatch of unlabelled CIFAR-10 training images,
offered on every dataset as measured). They are offered only to optimizers
that ask for them (``Optimizer.training_free``), so the multi-fidelity
optimizers that use "every fidelity below the target" keep their searches.

Cost model, in NB201 seconds: ``200`` costs the recorded 200-epoch training
time. The data records no 12-epoch times, and the 12-epoch schedule trains the
same network on the same data with the same batch size, so ``ce12`` costs
``12/200`` of the 200-epoch time and ``ce12@E`` costs ``E/200`` of it.
``params`` and ``flops`` are free; a proxy that pushes images through the
network costs the minibatches it uses, at NB201's time per training minibatch
(:func:`proxy_cost`; docs/data.md gives the sources of the numbers).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.tables import Tables

HIGH = "200"
#: ``Fidelity.measured_on``: the validation split (a search may see it) or the report's test images (never)
VALIDATION, TEST = "validation", "test"
#: ``Fidelity.measured_on`` of the training-free fidelities: no images, Gaussian noise, unlabelled training images
NO_IMAGES, GAUSSIAN_INPUTS, CIFAR10_TRAIN_IMAGES = "none", "gaussian-inputs", "cifar10-train-unlabelled"

#: NB201's training minibatch and training-set sizes (Dong & Yang, ICLR 2020: batch 256;
#: cifar10-valid trains on 25k images, CIFAR-100 on 50k, ImageNet16-120 on 151.7k)
NB201_BATCH = 256
NB201_TRAIN_IMAGES = {"cifar10": 25_000, "cifar100": 50_000, "imagenet16-120": 151_700}
#: images each proxy pushes through the network: NASWOT one minibatch of 128 (Mellor et al., ICML 2021);
#: Zen two forward passes (input and mixed-up input) of one 64-image batch, one repeat (NAS-Bench-Suite-Zero)
PROXY_IMAGES = {"naswot": 128, "zen": 2 * 64}


@dataclass(frozen=True)
class Fidelity:
    """One way of evaluating an architecture."""

    name: str
    epochs: int
    level: int  # 1 = the target (high) fidelity, 0 = a low fidelity
    description: str
    measured_on: str = VALIDATION  # TEST: measured on the report's test images, offered to no search
    training_free: bool = False  # scored without training (0 epochs): offered only to optimizers that ask

    @property
    def searchable(self) -> bool:
        """Whether a search may see this fidelity (not measured on the report's test images)."""
        return self.measured_on != TEST


@dataclass(frozen=True)
class FidelityTable:
    """A fidelity with its search score (NaN = unknown) and cost in NB201 seconds per NB201 index."""

    fidelity: Fidelity
    scores: np.ndarray
    costs: np.ndarray

    @property
    def known(self) -> np.ndarray:
        """NB201 indices with a score."""
        return np.flatnonzero(np.isfinite(self.scores))


@dataclass(frozen=True)
class LazyFidelity:
    """A fidelity resolved per cell when asked: ``resolve(index) -> (score, cost)``, the same for an index every time.

    Searches see it like any other fidelity; the live low fidelity
    (:class:`mfkdbench.lowfi.live.LiveResolver`) trains a cell the first time any search asks for it.
    """

    fidelity: Fidelity
    resolve: Callable[[int], tuple[float, float]]


def nb201_fidelities(tables: Tables, dataset: str) -> list[FidelityTable]:
    """NB201's own fidelities of ``dataset``: ``200``, and ``ce12`` / ``ce12@E`` where the data has them."""
    time_200 = tables.get(dataset, "time_200")
    out = [FidelityTable(Fidelity(HIGH, 200, 1, "200-epoch validation accuracy"), tables.get(dataset, "val_acc_200"),
                         time_200)]
    if tables.has(dataset, "val_acc_12"):
        out.append(FidelityTable(Fidelity("ce12", 12, 0, "12-epoch schedule, cross-entropy, validation accuracy"),
                                 tables.get(dataset, "val_acc_12"), time_200 * 12 / 200))
    if tables.has(dataset, "curve_12"):
        curve = tables.get(dataset, "curve_12")
        for e in range(1, 13):
            fid = Fidelity(f"ce12@{e}", e, 0, f"12-epoch schedule after epoch {e}, CIFAR-10 test images "
                                              "(the report's images: analysis only, never searched)", TEST)
            out.append(FidelityTable(fid, curve[:, e - 1], time_200 * e / 200))
    return out + training_free_fidelities(tables, dataset)


def training_free_fidelities(tables: Tables, dataset: str) -> list[FidelityTable]:
    """``params``, ``flops``, ``zen`` and ``naswot`` of ``dataset`` where the data has them (higher is better for
    all four, as MF-NAS ranks them), each with what it was measured on and its cost (:func:`proxy_cost`)."""
    free = np.zeros(len(tables.index_codes))
    sources = {  # name: (table metric, measured on, cost, description)
        "params": ("params_mb", NO_IMAGES, free, "parameters (millions), from the architecture alone"),
        "flops": ("flops_m", NO_IMAGES, free, "FLOPs (millions), from the architecture alone"),
        "zen": ("zen", GAUSSIAN_INPUTS, None, "Zen-NAS score on Gaussian inputs (NAS-Bench-Suite-Zero)"),
        "naswot": ("naswot", CIFAR10_TRAIN_IMAGES, None,
                   "NASWOT score on one minibatch of unlabelled CIFAR-10 training images (on every dataset)"),
    }
    out = []
    for name, (metric, measured_on, cost, description) in sources.items():
        if tables.has(dataset, metric):
            costs = cost if cost is not None else proxy_cost(tables, dataset, name)
            out.append(FidelityTable(Fidelity(name, 0, 0, description, measured_on, training_free=True),
                                     tables.get(dataset, metric), costs))
    return out


def proxy_cost(tables: Tables, dataset: str, proxy: str) -> np.ndarray:
    """Seconds a proxy costs per cell: the images it uses as a share of one NB201 training minibatch, at the time
    per minibatch of NB201's 200-epoch run (time per epoch / minibatches per epoch) on the images it saw
    (NASWOT: CIFAR-10 whatever the dataset). A forward pass is priced as a whole training step: an upper bound."""
    seen = "cifar10" if proxy == "naswot" else dataset
    minibatches_per_epoch = -(-NB201_TRAIN_IMAGES[seen] // NB201_BATCH)
    per_minibatch = tables.get(seen, "time_200") / 200 / minibatches_per_epoch
    return per_minibatch * PROXY_IMAGES[proxy] / NB201_BATCH


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation reveals to a search: the search score and its cost."""

    score: float
    cost: float


class Objective:
    """Optimizer-facing evaluations: search metric and cost, nothing else.

    It holds the search-score and cost columns of fidelities measured on
    validation data only; a fidelity measured on test images is refused.
    """

    def __init__(self, scores: dict[str, np.ndarray], costs: dict[str, np.ndarray],
                 seed_scores: np.ndarray | None, fidelities: dict[str, Fidelity],
                 resolvers: dict[str, Callable[[int], tuple[float, float]]] | None = None):
        leaked = [f.name for f in fidelities.values() if not f.searchable]
        if leaked or set(scores) | set(resolvers or {}) != set(fidelities):
            raise ValueError(f"an objective offers only validation fidelities, got {leaked or sorted(scores)}")
        self._scores = scores
        self._costs = costs
        self._seed_scores = seed_scores
        self._resolvers = resolvers or {}
        self._lists: dict[str, tuple[list, list]] = {}
        self.fidelities = fidelities

    def evaluate(self, index: int, fidelity: str = HIGH, rng: np.random.Generator | None = None) -> Evaluation:
        """Score and cost of NB201 index ``index`` at ``fidelity``.

        With ``rng`` and per-seed data, the high fidelity returns one randomly
        drawn seed's result instead of the mean over seeds.
        """
        return Evaluation(*self.evaluator(fidelity, rng)(index))

    def evaluator(self, fidelity: str, rng: np.random.Generator | None = None) -> Callable[[int], tuple[float, float]]:
        """``index -> (score, cost)`` at ``fidelity``, as :meth:`evaluate` (the simulator's per-evaluation path)."""
        if fidelity in self._resolvers:
            resolve = self._resolvers[fidelity]

            def resolved(index):
                score, cost = resolve(int(index))
                return float(score), float(cost)
            return resolved
        if fidelity not in self._scores:
            raise UserError(f"unknown fidelity {fidelity!r}; available: {', '.join(self.fidelities)}")
        if fidelity not in self._lists:  # Python floats: a list lookup is several times faster than numpy's
            self._lists[fidelity] = self._scores[fidelity].tolist(), self._costs[fidelity].tolist()
        scores, costs = self._lists[fidelity]
        if rng is not None and fidelity == HIGH and self._seed_scores is not None:
            per_seed = self._seed_scores

            def sampled(index):
                seeds = per_seed[index]
                seeds = seeds[~np.isnan(seeds)]
                return float(seeds[rng.integers(len(seeds))]), costs[index]
            return sampled
        return lambda index: (scores[index], costs[index])


class Benchmark:
    """One NB201 dataset (optionally restricted to a subset of cells) with its fidelities, fixed at construction."""

    def __init__(self, name: str, dataset: str, space: SearchSpace, tables: Tables, seed_mode: str = "mean",
                 fidelities: list[FidelityTable | LazyFidelity] | None = None):
        if seed_mode not in ("mean", "sample"):
            raise UserError(f"unknown seed mode {seed_mode!r}; choose 'mean' or 'sample'")
        self.name, self.dataset, self.space, self.tables, self.seed_mode = name, dataset, space, tables, seed_mode
        tables_ = nb201_fidelities(tables, dataset) if fidelities is None else fidelities
        self.fidelities: dict[str, Fidelity] = {t.fidelity.name: t.fidelity for t in tables_}
        lazy = [t for t in tables_ if isinstance(t, LazyFidelity)]
        self._resolvers = {t.fidelity.name: t.resolve for t in lazy}
        tables_ = [t for t in tables_ if not isinstance(t, LazyFidelity)]
        self._scores = {t.fidelity.name: np.asarray(t.scores, dtype=np.float64) for t in tables_}
        self._costs = {t.fidelity.name: np.asarray(t.costs, dtype=np.float64) for t in tables_}
        self._objective: Objective | None = None

    def __repr__(self) -> str:
        return f"Benchmark({self.name!r}, dataset={self.dataset!r}, cells={len(self.space)}, fidelities={list(self.fidelities)})"

    def fidelity_tables(self) -> list[FidelityTable | LazyFidelity]:
        """Every fidelity with its score and cost columns, or its resolver."""
        return [LazyFidelity(f, self._resolvers[n]) if n in self._resolvers
                else FidelityTable(f, self._scores[n], self._costs[n]) for n, f in self.fidelities.items()]

    # ---- search side ------------------------------------------------------
    def objective(self) -> Objective:
        """The search side only, for evaluations inside a search (read-only views, built once: no copy per run):
        the fidelities measured on validation data."""
        if self._objective is None:
            self._objective = self._search_side()
        return self._objective

    def _search_side(self) -> Objective:
        seeds = None
        if self.seed_mode == "sample":
            seeds = _read_only(self.tables.get(self.dataset, "val_acc_200_seeds"))
        names = [n for n, f in self.fidelities.items() if f.searchable]
        return Objective({n: _read_only(self._scores[n]) for n in names if n in self._scores},
                         {n: _read_only(self._costs[n]) for n in names if n in self._costs}, seeds,
                         {n: self.fidelities[n] for n in names},
                         {n: r for n, r in self._resolvers.items() if n in names})

    def fidelity(self, name: str) -> Fidelity:
        if name not in self.fidelities:
            raise UserError(f"fidelity {name!r} is not available for {self.name} from "
                            f"'{self.tables.meta.get('source')}'; available: {', '.join(self.fidelities)}")
        return self.fidelities[name]

    def score(self, index: int, fidelity: str = HIGH) -> float:
        """Search metric (mean over seeds); a lazy fidelity resolves ``index`` (it may train it)."""
        self.fidelity(fidelity)
        if fidelity in self._resolvers:
            return float(self._resolvers[fidelity](int(index))[0])
        return float(self._scores[fidelity][index])

    def cost(self, index: int, fidelity: str = HIGH) -> float:
        self.fidelity(fidelity)
        if fidelity in self._resolvers:
            return float(self._resolvers[fidelity](int(index))[1])
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
        return Benchmark(name, self.dataset, self.space.restrict(indices), self.tables, self.seed_mode,
                         self.fidelity_tables())

    def with_fidelities(self, extra: list[FidelityTable | LazyFidelity], name: str | None = None) -> Benchmark:
        """The same benchmark offering ``extra`` fidelities too (a name in ``extra`` replaces the existing one)."""
        names = {t.fidelity.name for t in extra}
        kept = [t for t in self.fidelity_tables() if t.fidelity.name not in names]
        return Benchmark(name or self.name, self.dataset, self.space, self.tables, self.seed_mode, kept + list(extra))


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


#: named subsets: benchmark name -> ``builder(tables, seed_mode) -> Benchmark``, each registered beside its data
SUBSETS: dict[str, Callable[[Tables, str], Benchmark]] = {}


def register_subset(name: str):
    """Decorator registering a named subset builder in :data:`SUBSETS`."""

    def deco(builder):
        SUBSETS[name] = builder
        return builder

    return deco
