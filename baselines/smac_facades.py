"""SMAC3's Hyperband and multi-fidelity facades (Lindauer et al., JMLR 2022) through SMAC's ask/tell interface:
``smac-hb`` (``HyperbandFacade``: Hyperband with random configurations) and ``smac-mf``
(``MultiFidelityFacade``: Hyperband with a random-forest surrogate, BOHB-like).

Space and budgets
    The six edges as a ConfigSpace space of categorical op names
    (:func:`~mfkdbench.nb201.space.configuration_space`). The rungs are Hyperband's ladder
    (:func:`~mfkdbench.baselines.hyperband.chosen_ladder`: ``ce12, 200`` under the 200-epoch target, or
    ``rungs=[...]``); rung ``k`` is SMAC budget ``eta**k`` (``min_budget=1``, ``max_budget=eta**(R-1)``), so
    SMAC's successive-halving stages fall on the rungs. Every evaluation is charged its full cost. SMAC
    minimises: it is told ``-score``, a failed (NaN) evaluation as crashed with cost 0 (accuracy 0 %).

Seeds and files
    The scenario is seeded from the run's generator. SMAC writes its scenario when a facade is built: into a
    temporary folder, removed at once; results are told without saving, so a search writes nothing.
    ``pip install -e ".[smac]"``.
"""
from __future__ import annotations

import logging
import math
import tempfile
from collections import deque
from pathlib import Path

from mfkdbench.errors import UserError
from mfkdbench.inputs import MAX_EVALUATIONS
from mfkdbench.nb201.space import configuration_space
from mfkdbench.search.optimizer import ETA, Optimizer, Range, Trial, register

from .hyperband import chosen_ladder


class SMACFacade(Optimizer):
    """A SMAC facade on the six edges and the rung ladder; subclasses pick the facade in :meth:`make_facade`."""

    multi_fidelity = True
    option_ranges = {"eta": ETA}

    def __init__(self, space, fidelities, rng, eta: int = 3, rungs=None, **options):
        super().__init__(space, fidelities, rng)
        self.library("smac", "smac")
        from smac import Scenario
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        self.eta = int(eta)  # in option_ranges, checked before the optimizer is built
        self.ladder = chosen_ladder(self.name, self.fidelities, self.eta, rungs)
        if len(self.ladder) < 2:
            raise UserError(f"{self.name} needs a fidelity below the target on its rungs; got {self.ladder}")
        self.value, self.crashed = TrialValue, StatusType.CRASHED
        with tempfile.TemporaryDirectory() as folder:
            scenario = Scenario(configuration_space(), output_directory=Path(folder), deterministic=True,
                                crash_cost=0.0, n_trials=MAX_EVALUATIONS, min_budget=1,
                                max_budget=self.eta ** (len(self.ladder) - 1), seed=int(rng.integers(2**31)))
            self.smac = self.make_facade(scenario, **options)
        self._pending: dict[tuple[int, str], deque] = {}

    def make_facade(self, scenario, **options):
        raise NotImplementedError

    def ask(self):
        info = self.smac.ask()
        level = round(math.log(info.budget, self.eta))
        index, fidelity = self.space.from_config(info.config), self.ladder[level]
        self._pending.setdefault((index, fidelity), deque()).append(info)
        return index, fidelity

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        info = self._pending[(trial.index, trial.fidelity)].popleft()
        if math.isnan(score):
            value = self.value(cost=0.0, status=self.crashed)
        else:
            value = self.value(cost=-score)
        self.smac.tell(info, value, save=False)


@register("smac-hb")
class SMACHyperband(SMACFacade):
    """SMAC3's ``HyperbandFacade`` on NB201's fidelities (random configurations)."""

    option_probes = {"eta": 2, "rungs": ["nst12", "200"]}  # rungs: on the 240 cells with NST runs

    def make_facade(self, scenario, **options):
        if options:
            raise UserError(f"optimizer {self.name!r} has no option(s) {', '.join(sorted(options))}")
        from smac import HyperbandFacade

        return HyperbandFacade(scenario, None, intensifier=HyperbandFacade.get_intensifier(scenario, eta=self.eta),
                               logging_level=logging.ERROR, overwrite=True)


@register("smac-mf")
class SMACMultiFidelity(SMACFacade):
    """SMAC3's ``MultiFidelityFacade`` (random-forest surrogate, Hyperband intensifier) on NB201's fidelities."""

    option_probes = {"eta": 2, "rungs": ["nst12", "200"], "random_probability": 0.9, "initial_configs": 3}
    option_ranges = {"random_probability": Range(0, 1), "initial_configs": Range(1, integer=True)}
    #: its random interleaving acts after the initial design
    probe_evaluations = 150

    def make_facade(self, scenario, random_probability: float = 0.2, initial_configs: int | None = None, **options):
        if options:
            raise UserError(f"optimizer {self.name!r} has no option(s) {', '.join(sorted(options))}")
        from smac import MultiFidelityFacade as Facade

        design = Facade.get_initial_design(scenario, n_configs=None if initial_configs is None else int(initial_configs))
        return Facade(scenario, None, intensifier=Facade.get_intensifier(scenario, eta=self.eta),
                      random_design=Facade.get_random_design(scenario, probability=float(random_probability)),
                      initial_design=design, logging_level=logging.ERROR, overwrite=True)
