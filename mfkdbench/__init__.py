"""mfkdbench: MF-KD (multi-fidelity NAS with knowledge distillation) on NAS-Bench-201.

The public API, imported lazily (``import mfkdbench`` loads nothing heavy)::

    from mfkdbench import Budget, load_benchmark, simulate

    bench = load_benchmark("cifar100")
    run = simulate(bench, "rea", seed=0, budget=Budget(seconds=40_000))
    print(run.final_index, run.final_report)

Layers, each importing only those below it: :mod:`~mfkdbench.nb201` ->
:mod:`~mfkdbench.lowfi` -> (:mod:`~mfkdbench.train`) -> :mod:`~mfkdbench.search` ->
:mod:`~mfkdbench.mfkd` and ``baselines`` -> :mod:`~mfkdbench.experiments` ->
:mod:`~mfkdbench.report`.
"""
from __future__ import annotations

from importlib import import_module

#: public name -> module that defines it
_API = {
    "load_benchmark": "mfkdbench.lowfi.catalog",
    "benchmark_names": "mfkdbench.lowfi.catalog",
    "Benchmark": "mfkdbench.nb201.benchmark",
    "Fidelity": "mfkdbench.nb201.benchmark",
    "SearchSpace": "mfkdbench.nb201.space",
    "Arch": "mfkdbench.nb201.space",
    "Budget": "mfkdbench.search.simulator",
    "Run": "mfkdbench.search.simulator",
    "simulate": "mfkdbench.search.simulator",
    "Optimizer": "mfkdbench.search.optimizer",
    "Trial": "mfkdbench.search.optimizer",
    "register": "mfkdbench.search.optimizer",
    "optimizer_names": "mfkdbench.search.optimizer",
    "UserError": "mfkdbench.errors",
    "BenchmarkObjective": "mfkdbench.search.blackbox",
    "syne_tune_blackbox": "mfkdbench.search.blackbox",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name == "__version__":
        from mfkdbench.version import __version__

        return __version__
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'mfkdbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
