"""mfkdbench's benchmarks as objectives for outside optimization frameworks.

:class:`BenchmarkObjective` is a plain callable, ``objective(configuration, fidelity)``, over NB201's six
edges (:data:`~mfkdbench.nb201.space.EDGE_NAMES`, op names as values; a ConfigSpace space in
:attr:`~BenchmarkObjective.configspace`) at the fidelities a search may use under a target fidelity
(:func:`~mfkdbench.search.simulator.search_fidelities`: never one measured on test images). Any benchmark
works: a dataset, ``cifar100-kd240``, a ``--lowfi-store`` store and so live KD
(:func:`~mfkdbench.lowfi.catalog.load_benchmark`). It returns the search score, the cost in seconds of
mfkdbench's cost model and ``virtual_time``, the simulated clock of one worker (the sum of the costs so far,
as CARP-S's trials record it), and the evaluated cell's NB201 index: in a restricted space a configuration
outside it is the candidate with the most edges in common (:meth:`~mfkdbench.nb201.space.SearchSpace.from_config`).
The report metric (test accuracy) is looked up after a search with :meth:`~BenchmarkObjective.report`.

:func:`syne_tune_blackbox` wraps one as a syne-tune ``Blackbox`` (``pip install -e ".[syne-tune]"``).
"""
from __future__ import annotations

from mfkdbench.nb201.benchmark import Benchmark
from mfkdbench.nb201.space import EDGE_NAMES, OPS, configuration_space
from mfkdbench.errors import UserError
from mfkdbench.search.simulator import search_fidelities


class BenchmarkObjective:
    """``objective(configuration, fidelity=target) -> {"score", "cost", "virtual_time", "index"}``."""

    def __init__(self, benchmark: Benchmark, target_fidelity: str = "200"):
        self.benchmark = benchmark
        #: fidelity name -> Fidelity, the target last
        self.fidelities = search_fidelities(benchmark, target_fidelity)
        self.target = target_fidelity
        self._objective = benchmark.objective()
        self._evaluators = {}
        #: simulated seconds spent so far (one worker)
        self.virtual_time = 0.0
        self.n_evaluations = 0

    #: hyperparameter name -> op names, for frameworks with their own space (Optuna's suggest_categorical)
    choices: dict[str, tuple[str, ...]] = {name: OPS for name in EDGE_NAMES}

    @property
    def configspace(self):
        """The six edges as a ConfigSpace ``ConfigurationSpace``."""
        return configuration_space()

    def __call__(self, configuration, fidelity: str | None = None) -> dict:
        fidelity = self.target if fidelity is None else str(fidelity)
        if fidelity not in self.fidelities:
            raise UserError(f"fidelity {fidelity!r} is not on offer under target {self.target!r}; "
                            f"choose from {', '.join(self.fidelities)}")
        index = self.benchmark.space.from_config(configuration)
        if fidelity not in self._evaluators:
            self._evaluators[fidelity] = self._objective.evaluator(fidelity)
        score, cost = self._evaluators[fidelity](index)
        self.virtual_time += cost
        self.n_evaluations += 1
        return {"score": score, "cost": cost, "virtual_time": self.virtual_time, "index": index}

    def report(self, configuration) -> float:
        """The report metric (``benchmark.report_metric``) of a configuration, for after the search."""
        return float(self.benchmark.report(self.benchmark.space.from_config(configuration)))


def syne_tune_blackbox(objective: BenchmarkObjective):
    """``objective`` as a syne-tune ``Blackbox``: ``configuration_space`` of ``choice`` parameters, the fidelity
    names as ``fidelity_space``, objectives ``metric_score`` and ``metric_cost`` (seconds)."""
    try:
        from syne_tune.blackbox_repository.blackbox import Blackbox
        from syne_tune.config_space import choice
    except ImportError:
        raise UserError('a syne-tune Blackbox needs syne-tune: pip install -e ".[syne-tune]"') from None

    class MfkdbenchBlackbox(Blackbox):
        """An mfkdbench benchmark (:class:`BenchmarkObjective`) as a syne-tune blackbox."""

        def _objective_function(self, configuration, fidelity=None, seed=None):
            result = objective(configuration, None if fidelity is None else fidelity["fidelity"])
            return {"metric_score": result["score"], "metric_cost": result["cost"]}

    return MfkdbenchBlackbox(configuration_space={name: choice(list(OPS)) for name in EDGE_NAMES},
                             fidelity_space={"fidelity": choice(list(objective.fidelities))},
                             objectives_names=["metric_score", "metric_cost"])
