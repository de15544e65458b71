"""syne-tune's schedulers (Salinas et al., AutoML-Conf 2022) through their suggest / report interface:
ASHA (Li et al., MLSys 2020, ``asha``), its BOHB (ASHA with BOHB's KDE searcher, ``st-bohb``) and regularized
evolution (Real et al., AAAI 2019, ``st-rea``, single-fidelity, for the cross-check with our ``rea``).

Space and budgets
    The six edges are six ``choice`` parameters of the op names (:data:`~mfkdbench.nb201.space.EDGE_NAMES`).
    The rungs are Hyperband's ladder (:func:`~mfkdbench.baselines.hyperband.chosen_ladder`: ``ce12, 200``
    under the 200-epoch target, or ``rungs=[...]``); rung ``k`` is resource ``eta**k``, so ASHA's milestones
    (``grace_period=1``, ``max_t=eta**(R-1)``, ``reduction_factor=eta``) fall on the rungs and nowhere else.
    A trial reports its score at each rung it reaches; when the scheduler says continue, the next rung is a
    new evaluation charged its full cost (the tables hold no checkpoints to resume from), as in ``hyperband``.
    A failed (NaN) evaluation is reported as a trial error.

Seeds
    Each scheduler is seeded from the run's generator. syne-tune also draws from NumPy's global generator
    (REA's first population, ASHA's bracket choice); every call into the library runs with a global state of
    this optimizer's own, seeded from the same generator and restored afterwards, so the same seed gives the
    same search and nothing else in the process is disturbed. The library's warnings are silenced there. ``pip install -e ".[syne-tune]"``.
"""
from __future__ import annotations

import datetime
import logging
import math
import warnings
from collections import deque
from contextlib import contextmanager

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import EDGE_NAMES, OPS
from mfkdbench.search.optimizer import ETA, Optimizer, Range, Trial, register

from .hyperband import chosen_ladder

EXTRA = "syne-tune"
METRIC, RESOURCE = "score", "budget"
#: the creation time given to every syne-tune trial (its schedulers only store it)
CREATED = datetime.datetime(2000, 1, 1)


class SyneTuneScheduler(Optimizer):
    """A syne-tune scheduler on the six edges; subclasses build it in :meth:`make_scheduler`."""

    def __init__(self, space, fidelities, rng, **options):
        super().__init__(space, fidelities, rng)
        self.library("syne_tune", EXTRA)
        from syne_tune.config_space import choice

        logging.getLogger("syne_tune").setLevel(logging.ERROR)  # its BOHB warns about its own default arguments
        self.config_space = {name: choice(list(OPS)) for name in EDGE_NAMES}
        seed = int(rng.integers(2**31))
        self._global = np.random.RandomState(int(rng.integers(2**31))).get_state()
        with self.inside_library():
            self.scheduler = self.make_scheduler(seed, **options)
        self._n_trials = 0
        self._pending: dict[tuple[int, str], deque] = {}

    def make_scheduler(self, seed: int, **options):
        raise NotImplementedError

    @contextmanager
    def inside_library(self):
        """Run library code with this optimizer's state of NumPy's global generator, and without its warnings
        (pandas' on an unseeded ``sample``, which this state seeds; statsmodels' on a constant KDE column)."""
        outside = np.random.get_state()
        np.random.set_state(self._global)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            self._global = np.random.get_state()
            np.random.set_state(outside)

    def new_trial(self):
        """A new syne-tune trial from the scheduler's suggestion (``None`` if it has none)."""
        from syne_tune.backend.trial_status import Trial as SyneTrial

        suggestion = self.scheduler.suggest()
        if suggestion is None:
            return None
        trial = SyneTrial(trial_id=self._n_trials, config=suggestion.config, creation_time=CREATED)
        self._n_trials += 1
        self.scheduler.on_trial_add(trial)
        return trial

    def start(self, trial, level: int) -> tuple[int, str]:
        """Propose ``trial`` at rung ``level`` (the target fidelity for a single-fidelity scheduler)."""
        index = self.space.from_config(trial.config)
        fidelity = self.ladder[level] if self.multi_fidelity else self.high
        self._pending.setdefault((index, fidelity), deque()).append((trial, level))
        return index, fidelity

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        handle, level = self._pending[(trial.index, trial.fidelity)].popleft()
        with self.inside_library():
            self.report(handle, level, score)

    def report(self, handle, level: int, score: float) -> None:
        if math.isnan(score):
            self.scheduler.on_trial_error(handle)
        else:
            self.scheduler.on_trial_complete(handle, {METRIC: score, RESOURCE: self.resource(level)})

    def resource(self, level: int) -> int:
        """syne-tune's resource (``time_attr``) of rung ``level``."""
        return 1


@register("st-rea")
class SyneTuneREA(SyneTuneScheduler):
    """syne-tune's ``REA`` (regularized evolution) at one fidelity."""

    option_probes = {"population_size": 5, "sample_size": 2}
    option_ranges = {"population_size": Range(1, integer=True), "sample_size": Range(1, integer=True)}
    #: the tournament acts once the first population (100) is in
    probe_evaluations = 150

    def make_scheduler(self, seed, population_size: int = 100, sample_size: int = 10, **options):
        if options:
            raise UserError(f"optimizer {self.name!r} has no option(s) {', '.join(sorted(options))}")
        from syne_tune.optimizer.baselines import REA

        return REA(self.config_space, metric=METRIC, do_minimize=False, random_seed=seed,
                   population_size=int(population_size), sample_size=int(sample_size))

    def ask(self):
        with self.inside_library():
            trial = self.new_trial()
        return None if trial is None else self.start(trial, 0)


class SyneTuneASHA(SyneTuneScheduler):
    """Asynchronous successive halving over the rung ladder; a trial told to continue is asked next."""

    multi_fidelity = True
    option_ranges = {"eta": ETA}

    def make_scheduler(self, seed, eta: int = 3, rungs=None, **options):
        self.eta = int(eta)  # in option_ranges, checked before the optimizer is built
        self.ladder = chosen_ladder(self.name, self.fidelities, self.eta, rungs)
        self._continuing: deque = deque()  # (trial, next rung) the scheduler let continue
        return self.make_asha(seed, max_t=self.eta ** (len(self.ladder) - 1), **options)

    def make_asha(self, seed: int, max_t: int, **options):
        raise NotImplementedError

    def ask(self):
        if self._continuing:
            return self.start(*self._continuing.popleft())
        with self.inside_library():
            trial = self.new_trial()
        return None if trial is None else self.start(trial, 0)

    def resource(self, level: int) -> int:
        return self.eta**level

    def report(self, handle, level: int, score: float) -> None:
        from syne_tune.optimizer.scheduler import SchedulerDecision

        if math.isnan(score) or level == len(self.ladder) - 1:
            super().report(handle, level, score)
            return
        result = {METRIC: score, RESOURCE: self.resource(level)}
        if self.scheduler.on_trial_result(handle, result) == SchedulerDecision.CONTINUE:
            self._continuing.append((handle, level + 1))
        else:
            self.scheduler.on_trial_remove(handle)


@register("asha")
class ASHA(SyneTuneASHA):
    """syne-tune's ``ASHA`` (random configurations, stopping at each rung) on NB201's fidelities."""

    option_probes = {"eta": 2, "rungs": ["200"]}

    def make_asha(self, seed, max_t, **options):
        if options:
            raise UserError(f"optimizer {self.name!r} has no option(s) {', '.join(sorted(options))}")
        from syne_tune.optimizer.baselines import ASHA as Scheduler

        return Scheduler(self.config_space, metric=METRIC, time_attr=RESOURCE, max_t=max_t, do_minimize=False,
                         random_seed=seed, grace_period=1, reduction_factor=self.eta)


@register("st-bohb")
class SyneTuneBOHB(SyneTuneASHA):
    """syne-tune's ``BOHB``: ASHA with BOHB's kernel-density searcher on NB201's fidelities."""

    #: its kernel-density model acts after about 65 results
    probe_evaluations = 150
    option_probes = {"eta": 2, "rungs": ["200"], "top_n_percent": 50, "num_candidates": 4, "random_fraction": 0.0}
    option_ranges = {"top_n_percent": Range(0, 100, integer=True, low_open=True, high_open=True),
                     "num_candidates": Range(1, integer=True), "random_fraction": Range(0, 1)}

    def make_asha(self, seed, max_t, top_n_percent: int = 15, num_candidates: int = 64,
                  random_fraction: float = 0.33, **options):
        if options:
            raise UserError(f"optimizer {self.name!r} has no option(s) {', '.join(sorted(options))}")
        from syne_tune.optimizer.baselines import BOHB

        return BOHB(self.config_space, metric=METRIC, time_attr=RESOURCE, max_t=max_t, do_minimize=False,
                    random_seed=seed, grace_period=1, reduction_factor=self.eta,
                    top_n_percent=int(top_n_percent), num_candidates=int(num_candidates),
                    random_fraction=float(random_fraction))
