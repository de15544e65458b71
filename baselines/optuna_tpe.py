"""Optuna's TPE sampler (Bergstra et al., NeurIPS 2011; Watanabe 2023) through Optuna's ask/tell interface.

The six edges are six categorical parameters (:data:`~mfkdbench.nb201.space.EDGE_NAMES`, the op names);
each ask is one Optuna trial at the target fidelity, a failed evaluation (NaN) is told as ``FAIL``. The
sampler is seeded from the run's generator and uses the constant liar (Optuna's setting for parallel
workers: a running trial counts as a bad one), so with one worker or several the same seed gives the same
search. ``pip install -e ".[optuna]"``.
"""
from __future__ import annotations

import math
import warnings
from collections import deque

from mfkdbench.nb201.space import EDGE_NAMES, OPS
from mfkdbench.search.optimizer import Optimizer, Range, Trial, register


@register("tpe")
class OptunaTPE(Optimizer):
    """Optuna's ``TPESampler`` on the six edges, one trial per evaluation at the target fidelity."""

    option_probes = {"n_startup_trials": 3, "n_ei_candidates": 4, "multivariate": True}
    option_ranges = {"n_startup_trials": Range(0, integer=True), "n_ei_candidates": Range(1, integer=True)}

    def __init__(self, space, fidelities, rng, n_startup_trials: int = 10, n_ei_candidates: int = 24,
                 multivariate: bool = False, **options):
        super().__init__(space, fidelities, rng, **options)
        optuna = self.library("optuna", "optuna")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():  # multivariate and constant_liar are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                n_startup_trials=int(n_startup_trials), n_ei_candidates=int(n_ei_candidates),
                multivariate=bool(multivariate), constant_liar=True, seed=int(rng.integers(2**31)))
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self.distributions = {name: optuna.distributions.CategoricalDistribution(OPS) for name in EDGE_NAMES}
        self.fail = optuna.trial.TrialState.FAIL
        self._pending: dict[int, deque] = {}

    def ask(self):
        trial = self.study.ask(self.distributions)
        index = self.space.from_config(trial.params)
        self._pending.setdefault(index, deque()).append(trial)
        return index, self.high

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        handle = self._pending[trial.index].popleft()
        if math.isnan(score):
            self.study.tell(handle, state=self.fail)
        else:
            self.study.tell(handle, score)
