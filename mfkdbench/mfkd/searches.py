"""MF-KD (Trofimov et al., IEEE Access 2023): co-kriging Bayesian optimization over NB201 cells.

Registered optimizers, sharing :class:`GPSearch`:

* ``mfkd`` -- co-kriging of the 200-epoch accuracy with the knowledge-distillation
  low fidelity ``nst12`` (12 epochs, CE + 25 NST);
* ``mf-ce`` -- the same with NB201's 12-epoch cross-entropy low fidelity
  ``ce12`` (the paper's ablation);
* ``gp-hf`` -- a single-fidelity GP on the target fidelity only;
* ``mfkd-zc`` / ``mf-ce-zc`` -- ``mfkd`` / ``mf-ce`` whose co-kriging has a zero-cost prior mean
  (:class:`ZeroCostGPSearch`): the low level's prior mean is ``w z(x)``, ``z`` a training-free score
  of every candidate (option ``zero_cost``, default ``params``), ``w`` fitted with the other
  hyperparameters (``mfkdbench.mfkd.cokriging``).

Defaults follow the paper and the authors' code: one-hot encoding, UCB with
beta = 1 over every cell not yet evaluated at the step's fidelity, every
``ratio``-th (2nd) step at the high fidelity, an initial design of 3 random
high- and 10 random low-fidelity cells. The low-fidelity step maximizes the
UCB of ``sign(rho) f_low`` under the *low-level* posterior (the authors' code
minimized it and predicted with the high level; we implement the intent, see
``docs/mfkd.md``). When every cell of the step's fidelity has been proposed the
step goes to the other fidelity; when both are used up, :meth:`GPSearch.ask`
returns None (the simulator ends the run and records why). Exact ties of the
acquisition go to a random cell (the optimizer's generator).
``allocation="cost"`` replaces the fixed ratio by :meth:`GPSearch._cost_aware_level`;
``candidates="local"`` limits each step's acquisition to the one-edge neighbours of the
step's fidelity's ten best cells, as local search and BANANAS' mutations do
(:meth:`GPSearch._allowed`). Options: ``encoding``, ``acquisition`` (``ucb``/``ei``), ``beta``,
``allocation`` (``ratio``/``cost``), ``ratio`` (with ``allocation="ratio"`` only), ``max_low_share``
(with ``allocation="cost"`` only), ``candidates`` (``all``/``local``), ``n_init_high``, ``n_init_low``,
``low_fidelity``; ``gp-hf`` takes none of the two-level ones. An option that cannot act is refused, never ignored.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from mfkdbench.mfkd.acquisition import ACQUISITIONS, CandidatePool
from mfkdbench.mfkd.cokriging import CoKriging
from mfkdbench.nb201.encodings import ENCODINGS, encode
from mfkdbench.errors import UserError
from mfkdbench.search.blas import single_threaded_blas
from mfkdbench.search.optimizer import Optimizer, Range, Trial, register

LOW, HIGH_LEVEL = 0, 1
#: ``candidates="local"``: the neighbourhoods of this many best cells of a level are searched
N_LOCAL = 10


class _Level:
    """Observations at one fidelity: NB201 indices, scores (finite only), encodings, costs."""

    def __init__(self, dim: int, n_pool: int):
        self.untried = np.ones(n_pool, dtype=bool)  # pool positions neither evaluated nor pending here
        self.indices: list[int] = []
        self.scores: list[float] = []
        self.encodings = np.zeros((0, dim))
        self.costs: list[float] = []

    def add(self, index: int, score: float, encoding: np.ndarray, cost: float) -> None:
        self.costs.append(cost)
        if math.isfinite(score):
            self.indices.append(index)
            self.scores.append(score)
            self.encodings = np.vstack([self.encodings, encoding])


class GPSearch(Optimizer):
    """Shared loop of the GP-based searches: initial design, fidelity choice, fit, acquisition."""

    levels = 2
    default_low: str | None = None
    multi_fidelity = True
    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"encoding": "path", "acquisition": "ei", "beta": 3.0, "allocation": "cost", "ratio": 3,
                     "max_low_share": 0.2, "candidates": "local", "n_init_high": 5, "n_init_low": 5,
                     "low_fidelity": "ce12"}
    #: options a probe needs besides its own (compared with a search under those alone)
    probe_context = {"max_low_share": {"allocation": "cost"}}
    option_ranges = {"beta": Range(0), "ratio": Range(1, integer=True), "max_low_share": Range(0, 1, high_open=True),
                     "n_init_high": Range(1, integer=True), "n_init_low": Range(1, integer=True)}

    def __init__(self, space, fidelities, rng, *, encoding: str = "onehot", acquisition: str = "ucb",
                 beta: float = 1.0, allocation: str = "ratio", ratio: int | None = None, max_low_share: float | None = None,
                 candidates: str = "all", n_init_high: int = 3, n_init_low: int = 10,
                 low_fidelity: str | None = None, **options):
        super().__init__(space, fidelities, rng, **options)
        if encoding not in ENCODINGS:
            raise UserError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
        if acquisition not in ACQUISITIONS:
            raise UserError(f"unknown acquisition {acquisition!r}; choose one of {', '.join(ACQUISITIONS)}")
        if allocation not in ("ratio", "cost"):
            raise UserError(f"unknown fidelity allocation {allocation!r}; choose 'ratio' or 'cost'")
        if (ratio, max_low_share)[allocation == "ratio"] is not None:
            unused = "max_low_share" if allocation == "ratio" else "ratio"
            raise UserError(f"{unused} does nothing with allocation={allocation!r}; leave it out")
        ratio, max_low_share = 2 if ratio is None else ratio, 0.5 if max_low_share is None else max_low_share
        if candidates not in ("all", "local"):
            raise UserError(f"unknown candidate set {candidates!r}; choose 'all' or 'local'")
        self.encoding, self.acquisition, self.beta = encoding, acquisition, float(beta)
        self.allocation, self.ratio, self.max_low_share = allocation, int(ratio), float(max_low_share)
        self.candidates = candidates
        self.low = None
        if self.levels == 2:
            self.low = low_fidelity or self.default_low
            offered = [f.name for f in self.fidelities.values() if f.level == 0]
            if self.low not in offered:
                hint = ("; KD runs exist for cifar100-kd240; elsewhere train them during the search (--lowfi live) "
                        "or beforehand (mfkdbench lowfi build, then --lowfi-store)"
                        if self.low == "nst12" else "")
                raise UserError(f"{self.name} needs the low fidelity {self.low!r}, which this benchmark and target "
                                f"do not offer (low fidelities on offer: {', '.join(offered) or 'none'}){hint}")
        cands = self.space.candidates
        self.pool = CandidatePool(cands, encode(encoding, self.space, cands))
        self._position = {int(i): p for p, i in enumerate(cands)}
        dim = self.pool._x.shape[1]
        self.obs = {LOW: _Level(dim, len(cands)), HIGH_LEVEL: _Level(dim, len(cands))}
        n_high = min(n_init_high, len(cands))
        n_low = min(n_init_low, len(cands)) if self.levels == 2 else 0
        self._queue = [(int(i), HIGH_LEVEL) for i in self.rng.choice(cands, n_high, replace=False)]
        self._queue += [(int(i), LOW) for i in self.rng.choice(cands, n_low, replace=False)]
        self._steps = 0
        self.model = CoKriging(self.levels, rng=self.rng)

    # ---- ask / tell -------------------------------------------------------------
    def _fidelity(self, level: int) -> str:
        return self.high if level == HIGH_LEVEL else self.low

    def ask(self):
        while self._queue:
            index, level = self._queue.pop(0)
            if self.obs[level].untried[self._position[index]]:
                self.obs[level].untried[self._position[index]] = False
                return index, self._fidelity(level)
        if self.levels == 1:
            level = HIGH_LEVEL
        elif self.allocation == "ratio":
            level = HIGH_LEVEL if self._steps % self.ratio == self.ratio - 1 else LOW
        else:
            level = None
        self._steps += 1
        with single_threaded_blas():
            proposal = self._propose(level)
        if proposal is None:  # every cell proposed at every fidelity
            return None
        index, level = proposal
        self.obs[level].untried[self._position[index]] = False
        return index, self._fidelity(level)

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        level = HIGH_LEVEL if trial.fidelity == self.high else LOW
        self.obs[level].add(trial.index, score, self.pool._x[self._position[trial.index]], cost)

    # ---- proposal ---------------------------------------------------------------
    def _open_levels(self, preferred: int | None) -> list[int]:
        """Levels with cells not yet proposed there, ``preferred`` first."""
        order = [HIGH_LEVEL] if self.levels == 1 else ([LOW, HIGH_LEVEL] if preferred == LOW else [HIGH_LEVEL, LOW])
        return [level for level in order if self.obs[level].untried.any()]

    def _random(self, level: int):
        return int(self.rng.choice(self.pool.indices[self.obs[level].untried])), level

    def _fit(self) -> bool:
        """Refit the model (warm-started); False while some level has no finite observation yet."""
        high, low = self.obs[HIGH_LEVEL], self.obs[LOW]
        if self.levels == 1:
            if not high.indices:
                return False
            self.model.fit(high.encodings, high.scores)
            self._observed = (high.indices, [])
            return True
        if not high.indices or not low.indices:
            return False
        self.model.fit(low.encodings, low.scores, high.encodings, high.scores, **self._prior(low, high))
        self._observed = (low.indices, high.indices)
        return True

    def _prior(self, low: _Level, high: _Level) -> dict:
        """Zero-cost scores of the observed cells for the model's prior mean (none here)."""
        return {}

    def _best(self, level: int, acquisition: str, model_level: int | None = None):
        """Best cell not yet proposed at ``level`` by ``acquisition`` of the model's ``model_level``.

        The low level of a two-level model is scored as ``sign(rho) f_low``: with
        ``rho < 0`` a low value at the low fidelity is what predicts a high one.
        """
        model_level = (0 if self.levels == 1 else level) if model_level is None else model_level
        sign = -1.0 if self.levels == 2 and model_level == 0 and self.model.theta[0] < 0 else 1.0
        scores = np.asarray(self.obs[HIGH_LEVEL if model_level == 1 or self.levels == 1 else LOW].scores)
        mu, sd = (self.model.mean_low, self.model.std_low) if model_level == 0 else \
            (self.model.mean_high, self.model.std_high)
        best = float(np.max(sign * (scores - mu) / sd)) if len(scores) else 0.0
        return self.pool.best(self.model, model_level, self._allowed(level), self._observed, acquisition, best,
                              self.beta, rng=self.rng, sign=sign)

    def _allowed(self, level: int) -> np.ndarray:
        """Pool positions the acquisition may pick at ``level``: every untried cell, or with
        ``candidates="local"`` the untried one-edge neighbours of the level's :data:`N_LOCAL` best cells
        (every untried cell when none is left there)."""
        obs = self.obs[level]
        untried = obs.untried
        if self.candidates == "all" or not obs.indices:
            return untried
        best = np.asarray(obs.indices)[np.argsort(obs.scores, kind="stable")[-N_LOCAL:]]
        near = np.zeros_like(untried)
        for index in best:
            near[[self._position[int(i)] for i in self.space.neighbours(int(index))]] = True
        near &= untried
        return near if near.any() else untried

    def _propose(self, level: int | None):
        """``(index, level)`` to evaluate next; ``level`` None: the cost-aware rule chooses it."""
        open_levels = self._open_levels(level)
        if not open_levels:
            return None
        if not self._fit():
            return self._random(open_levels[0])
        if level is None:
            return self._cost_aware_level()
        level = open_levels[0]
        return int(self.pool.indices[self._best(level, self.acquisition)[0]]), level

    def _cost_aware_level(self):
        """Fidelity (and cell) with the highest expected gain per simulated second.

        Gain of a high evaluation: the high-level expected improvement of the
        best cell not yet evaluated high. Gain of a low evaluation: the same
        quantity over cells not yet evaluated low, times the share of the
        high-level prior variance explained by the low level,
        ``rho^2 c_l / (rho^2 c_l + c_d)``. Cost: the mean observed cost of the
        fidelity. Bound: while more than ``max_low_share`` of the simulated time
        spent so far went to the low fidelity, the step is high (on 15,625 cells
        the low gain alone keeps winning and the target is never evaluated).
        """
        rho, (c_l, _, _), delta = self.model._unpack(self.model.theta)
        share = rho**2 * c_l / (rho**2 * c_l + delta[0])
        spent = {level: sum(self.obs[level].costs) for level in (HIGH_LEVEL, LOW)}
        low_over = spent[LOW] > self.max_low_share * (spent[LOW] + spent[HIGH_LEVEL])
        best = {}
        for level in self._open_levels(HIGH_LEVEL if low_over else LOW)[: 1 if low_over else 2]:
            found = self._best(level, "ei", model_level=HIGH_LEVEL)
            weight = 1.0 if level == HIGH_LEVEL else share
            best[level] = (found[0], weight * found[1] / max(np.mean(self.obs[level].costs), 1e-9))
        level = max(best, key=lambda lv: (best[lv][1], lv))
        return int(self.pool.indices[best[level][0]]), level


@register("mfkd")
class MFKD(GPSearch):
    """Co-kriging BO with the knowledge-distillation low fidelity (``nst12``)."""

    default_low = "nst12"


@register("mf-ce")
class MFCE(GPSearch):
    """Co-kriging BO with NB201's 12-epoch cross-entropy low fidelity (``ce12``)."""

    default_low = "ce12"
    option_probes = {**GPSearch.option_probes, "low_fidelity": "nst12"}


class ZeroCostGPSearch(GPSearch):
    """Co-kriging with a zero-cost prior mean on its low level.

    It first asks the training-free fidelity ``zero_cost`` of every candidate (each at that fidelity's cost,
    by the benchmark's cost model: ``params`` and ``flops`` free, ``zen`` and ``naswot`` the images they push
    through the network), turns the scores into normal scores of their ranks among the candidates (a
    cell without one: 0, the middle), then searches as :class:`GPSearch` with
    ``f_low = w z + g``, ``f_high = rho f_low + delta``, ``w`` fitted at every fit (see ``docs/mfkd.md``
    for the design and its measurements).
    """

    training_free = True
    #: a non-default value of each option that changes the search (``max_low_share`` with ``allocation="cost"``,
    #: :attr:`GPSearch.probe_context`)
    option_probes = {**GPSearch.option_probes, "zero_cost": "flops", "beta": 2.0}
    #: probe searches run on the 240 cells with NST runs (training-free fidelities are offered there): the first
    #: 240 evaluations ask the zero-cost score of every cell, the co-kriging acts after them
    probe_evaluations = 400

    def __init__(self, space, fidelities, rng, *, zero_cost: str = "params", **options):
        super().__init__(space, fidelities, rng, **options)
        offered = [f.name for f in self.fidelities.values() if f.training_free]
        if zero_cost not in offered:
            raise UserError(f"{self.name} needs the training-free fidelity {zero_cost!r}, which this benchmark does "
                            f"not offer (training-free fidelities on offer: {', '.join(offered) or 'none'})")
        self.zero_cost = zero_cost
        self._zero_cost_scores = np.full(len(self.pool), np.nan)
        self._zero_cost_asked = self._zero_cost_told = 0

    def ask(self):
        if self._zero_cost_asked < len(self.pool):
            self._zero_cost_asked += 1
            return int(self.pool.indices[self._zero_cost_asked - 1]), self.zero_cost
        if self._zero_cost_told < len(self.pool):
            return None  # the last zero-cost scores are still running (several workers)
        return super().ask()

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        if trial.fidelity != self.zero_cost:
            return super().tell(trial, score, cost)
        self._zero_cost_scores[self._position[trial.index]] = score
        self._zero_cost_told += 1
        if self._zero_cost_told == len(self.pool):
            self.pool.prior = normal_scores(self._zero_cost_scores)

    def recommends(self, trial: Trial) -> bool:
        """A zero-cost score never makes a cell the incumbent (nothing is recommended before a trained result)."""
        return trial.fidelity != self.zero_cost

    def _prior(self, low: _Level, high: _Level) -> dict:
        return {f"prior_{name}": self.pool.prior[[self._position[i] for i in level.indices]]
                for name, level in (("low", low), ("high", high))}


def normal_scores(scores: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks of the finite ``scores`` (ties: average rank); 0 where a score is missing.
    (On 6 held-out designs per dataset the rank transform of ``params`` predicted held-out cells better than
    the standardized raw or log values: ``bench/zc_prior_heldout.py``.)"""
    out = np.zeros(len(scores))
    finite = np.isfinite(scores)
    out[finite] = ndtri((rankdata(scores[finite]) - 0.5) / finite.sum())
    return out


@register("mfkd-zc")
class MFKDZeroCost(ZeroCostGPSearch):
    """``mfkd`` with a zero-cost prior mean (default ``params``) on its low level."""

    default_low = "nst12"


@register("mf-ce-zc")
class MFCEZeroCost(ZeroCostGPSearch):
    """``mf-ce`` with a zero-cost prior mean (default ``params``) on its low level."""

    default_low = "ce12"
    option_probes = {**ZeroCostGPSearch.option_probes, "low_fidelity": "nst12"}


@register("gp-hf")
class GPHighFidelity(GPSearch):
    """GP-UCB on the target fidelity only (same kernel, acquisition and candidate search)."""

    levels = 1
    multi_fidelity = False
    refused_options = ("allocation", "ratio", "max_low_share", "n_init_low", "low_fidelity")  # of two levels
    option_probes = {k: GPSearch.option_probes[k] for k in ("encoding", "acquisition", "beta", "candidates",
                                                            "n_init_high")}
    #: on the whole space UCB keeps to one-edge neighbours of the best cells for the first 60 or so steps, so
    #: ``candidates="local"`` only acts after them
    probe_evaluations = 80

    def __init__(self, space, fidelities, rng, **options):
        given = sorted(set(options) & set(self.refused_options))
        if given:
            raise UserError(f"{self.name} searches the target fidelity alone; it takes no {', '.join(given)} option")
        super().__init__(space, fidelities, rng, **options)


__all__ = ["GPSearch", "MFKD", "MFCE", "GPHighFidelity", "ZeroCostGPSearch", "MFKDZeroCost", "MFCEZeroCost"]
