"""BOHB (Falkner et al., ICML 2018): Hyperband with a TPE-like kernel-density model, on the NB201 edges.

The brackets, rungs and parallel scheme are :class:`mfkdbench.baselines.hyperband.Hyperband`'s;
only the choice of new configurations differs. It follows hpbandster's
``CG_BOHB`` (the reference implementation, not wrapped: it hangs under numpy 2):

* observations are kept per rung (hpbandster: per budget); the model is fitted
  on the highest rung that has enough of them: with ``N`` results (failed ones
  rank last), the best ``max(min_points_in_model, top_n_percent * N // 100)``
  form the "good" set and the next ``max(min_points_in_model, (100 -
  top_n_percent) * N // 100)`` the "bad" one; both need more points than the 6
  edges;
* each set is a product-kernel density over the 6 categorical edges;
* a new configuration is, with probability ``random_fraction`` (or while no
  model exists), uniformly random; otherwise the best of ``num_samples`` draws
  around random "good" points under ``max(bad, 1e-32) / max(good, 1e-32)``:
  each edge keeps the point's op with probability ``1 - bandwidth`` and is
  uniformly redrawn otherwise (hpbandster's categorical draw;
  hpbandster's ``bandwidth_factor`` widens continuous kernels only, so it has
  no effect on NB201's categorical edges and is not an option here).

Two additions for a finite space: a drawn cell already used in the run is
skipped for the next best draw (a uniformly random unused cell when all 64 are
used), and cells outside a restricted space are skipped likewise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import Range, register
from mfkdbench.nb201.space import N_EDGES, N_OPS, ops_to_codes

from .hyperband import Hyperband

_TINY = 1e-32


class AitchisonAitkenKDE:
    """Product Aitchison-Aitken kernel density over categorical vectors.

    Hand-written (about 30 lines) rather than taken from statsmodels'
    ``KDEMultivariate(var_type='u' * 6, bw='normal_reference')``, which hpbandster
    uses: statsmodels is a heavy dependency for one kernel. The kernel of one
    dimension with ``c`` levels and bandwidth ``h`` is ``1 - h`` on a match and
    ``h / (c - 1)`` otherwise; the bandwidth is statsmodels' normal reference
    rule ``1.06 * std * n ** (-1 / (4 + d))`` clipped below at ``min_bandwidth``
    (as hpbandster does). Two deliberate differences from statsmodels: ``c`` is
    the number of ops (statsmodels counts the levels present in the data), and
    ``h`` is clipped above at ``(c - 1) / c``, the uniform kernel (beyond it
    the kernel prefers mismatches, and past 1 it turns negative).
    """

    def __init__(self, data: np.ndarray, n_levels: int, min_bandwidth: float):
        self.data = np.asarray(data, dtype=np.int64)
        self.n_levels = n_levels
        n, d = self.data.shape
        bw = 1.06 * self.data.std(axis=0) * n ** (-1.0 / (4 + d))
        self.bw = np.clip(bw, min_bandwidth, (n_levels - 1) / n_levels)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at each row of ``x`` (``(m, d)`` level codes)."""
        match = np.asarray(x)[:, None, :] == self.data[None, :, :]
        kernel = np.where(match, 1.0 - self.bw, self.bw / (self.n_levels - 1))
        return kernel.prod(axis=2).mean(axis=1)

    def sample_around(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws as hpbandster makes them: a random data point, each level kept w.p. ``1 - bw``."""
        centres = self.data[rng.integers(len(self.data), size=n)]
        keep = rng.random(centres.shape) < 1.0 - self.bw
        return np.where(keep, centres, rng.integers(self.n_levels, size=centres.shape))


@dataclass(frozen=True)
class TPEModel:
    """The "good" and "bad" densities of one rung."""

    good: AitchisonAitkenKDE
    bad: AitchisonAitkenKDE

    def acquisition(self, x: np.ndarray) -> np.ndarray:
        """``bad / good`` density ratio; lower is better."""
        return np.maximum(self.bad.pdf(x), _TINY) / np.maximum(self.good.pdf(x), _TINY)


def fit_tpe(ops: np.ndarray, scores: np.ndarray, *, min_points_in_model: int, top_n_percent: int,
            min_bandwidth: float, n_levels: int = N_OPS) -> TPEModel | None:
    """The model of one rung from its results (higher score is better, NaN worst), or ``None`` if too few."""
    losses = np.where(np.isnan(scores), np.inf, -np.asarray(scores, dtype=np.float64))
    n, d = ops.shape
    n_good = max(min_points_in_model, top_n_percent * n // 100)
    n_bad = max(min_points_in_model, (100 - top_n_percent) * n // 100)
    order = np.argsort(losses, kind="stable")
    good, bad = ops[order[:n_good]], ops[order[n_good:n_good + n_bad]]
    if len(good) <= d or len(bad) <= d:
        return None
    return TPEModel(AitchisonAitkenKDE(good, n_levels, min_bandwidth), AitchisonAitkenKDE(bad, n_levels, min_bandwidth))


@register("bohb")
class BOHB(Hyperband):
    """Hyperband whose new configurations come from a per-rung TPE model."""

    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"eta": 2, "rungs": ["200"], "min_points_in_model": 9, "top_n_percent": 40, "num_samples": 8,
                     "random_fraction": 0.0, "min_bandwidth": 0.3}
    #: the model needs more than 2 x 7 results on a rung before top_n_percent and min_bandwidth act
    probe_evaluations = 150
    option_ranges = {"min_points_in_model": Range(1, integer=True),
                     "top_n_percent": Range(0, 100, integer=True, low_open=True, high_open=True),
                     "num_samples": Range(1, integer=True), "random_fraction": Range(0, 1),
                     "min_bandwidth": Range(0, low_open=True)}

    def __init__(self, space, fidelities, rng, *, min_points_in_model: int | None = None, top_n_percent: int = 15,
                 num_samples: int = 64, random_fraction: float = 1 / 3,
                 min_bandwidth: float = 1e-3, **options):
        super().__init__(space, fidelities, rng, **options)
        self.min_points_in_model = N_EDGES + 1 if min_points_in_model is None else int(min_points_in_model)
        if self.min_points_in_model < N_EDGES + 1:  # hpbandster raises it to d + 1 with a warning
            self.min_points_in_model = N_EDGES + 1
        self.top_n_percent, self.num_samples = int(top_n_percent), int(num_samples)
        self.random_fraction = float(random_fraction)
        self.min_bandwidth = float(min_bandwidth)
        self._observed: list[tuple[list[int], list[float]]] = [([], []) for _ in self.ladder]
        self._models: dict[int, TPEModel | None] = {}

    def observe(self, level: int, index: int, score: float) -> None:
        indices, scores = self._observed[level]
        indices.append(index)
        scores.append(score)
        self._models.pop(level, None)

    def model(self) -> TPEModel | None:
        """The model of the highest rung with enough results (hpbandster's ``max(kde_models)``)."""
        for level in range(len(self.ladder) - 1, -1, -1):
            if level not in self._models:
                indices, scores = self._observed[level]
                self._models[level] = fit_tpe(
                    self.space.ops(indices), np.array(scores, dtype=np.float64),
                    min_points_in_model=self.min_points_in_model, top_n_percent=self.top_n_percent,
                    min_bandwidth=self.min_bandwidth)
            if self._models[level] is not None:
                return self._models[level]
        return None

    def sample_config(self) -> int | None:
        model = self.model()
        if model is None or self.rng.random() < self.random_fraction:
            return self.unseen.draw(self.rng)
        draws = model.good.sample_around(self.rng, self.num_samples)
        ranked = draws[np.argsort(model.acquisition(draws), kind="stable")]
        for index in self.space.code_index[ops_to_codes(ranked)]:
            if index in self.space and not self.unseen.used[index]:
                self.unseen.mark(int(index))
                return int(index)
        return self.unseen.draw(self.rng)


#: NB201's hpbandster budgets: ``min_budget`` and ``max_budget`` of its BOHB script
NB201_BUDGETS = (12, 200)


def hpbandster_levels(min_budget: float, max_budget: float, eta: int) -> int:
    """Number of budgets hpbandster makes: ``floor(log_eta(max / min)) + 1`` (3 for 12..200, eta 3)."""
    return -int(math.log(min_budget / max_budget) / math.log(eta)) + 1


@register("bohb-nb201")
class BOHBNB201(BOHB):
    """BOHB as NAS-Bench-201 ran it (Dong & Yang, ICLR 2020; ``exps/algos/BOHB.py`` and
    ``scripts-search/algos/BOHB.sh`` of AutoDL-Projects).

    That script gives hpbandster budgets 12..200 with ``eta = 3`` (3 rungs),
    but its worker ignores the budget: every evaluation, promotions included,
    returns the 12-epoch-schedule validation accuracy at the full 12-epoch
    cost. So here every rung is the search's one fidelity (``bohb-nb201@ce12``
    is NB201's), and a promotion evaluates the same cell again at the same
    cost. The script's settings are the defaults: ``num_samples=4``,
    ``random_fraction=0``, ``bandwidth_factor=3`` (no effect on categorical
    edges, see :class:`BOHB`, so no option), ``min_bandwidth=0.3``. As in the script, the
    recommendation is the best cell evaluated on the top rung
    (:meth:`recommends`), and the evaluation that would end after the time
    budget is dropped (``overshoot = False``: the simulator cuts it).
    """

    multi_fidelity = False  # one fidelity for every evaluation
    overshoot = False
    refused_options = ("rungs",)  # every rung is the search's one fidelity
    option_probes = {"eta": 2, "min_points_in_model": 9, "top_n_percent": 40, "num_samples": 16,
                     "random_fraction": 0.5, "min_bandwidth": 0.1}

    def __init__(self, space, fidelities, rng, *, num_samples: int = 4, random_fraction: float = 0.0,
                 min_bandwidth: float = 0.3, **options):
        super().__init__(space, fidelities, rng, num_samples=num_samples, random_fraction=random_fraction,
                         min_bandwidth=min_bandwidth, **options)
        self._last_on_top = False

    def make_ladder(self, rungs) -> list[str]:
        if rungs is not None:
            raise UserError(f"{self.name} evaluates every rung at one fidelity; it takes no rungs option")
        return [self.high] * hpbandster_levels(*NB201_BUDGETS, self.eta)

    def tell(self, trial, score, cost):
        self._last_on_top = self._pending[(trial.index, trial.fidelity)][0][1] == len(self.ladder) - 1
        super().tell(trial, score, cost)

    def recommends(self, trial) -> bool:
        """Only results on the top rung can become the incumbent (hpbandster's incumbent on the largest budget)."""
        return self._last_on_top
