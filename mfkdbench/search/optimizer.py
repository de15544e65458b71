"""The optimizer protocol (ask/tell over immutable trial records) and the registry.

An optimizer sees the search space, the fidelities on offer (names, epochs and
levels, no data) and a seeded random generator, nothing else. It proposes
``(nb201_index, fidelity_name)`` with :meth:`Optimizer.ask` and learns the
search score and cost of finished trials through :meth:`Optimizer.tell`.

Registering a new optimizer takes one file in ``baselines/``::

    from mfkdbench.search.optimizer import Optimizer, register

    @register("my-search")
    class MySearch(Optimizer):
        def ask(self):
            return int(self.space.sample(self.rng)), self.high

        def tell(self, trial, score, cost):
            pass

Every module of the ``baselines`` package is imported when the registry is
first read, so no other file needs to change.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cached_property
from typing import NamedTuple

import numpy as np

from mfkdbench.nb201.benchmark import Fidelity
from mfkdbench.errors import UserError
from mfkdbench.nb201.space import SearchSpace


class Trial(NamedTuple):
    """One proposed evaluation, an immutable record: an NB201 index at a fidelity."""

    trial_id: int
    index: int
    fidelity: str


class Optimizer:
    """Base class: subclasses implement :meth:`ask` and :meth:`tell`."""

    #: registry name, set by :func:`register`
    name: str = ""
    #: True for optimizers that use more than the target fidelity
    multi_fidelity: bool = False
    #: True for optimizers that ask for the training-free fidelities (``params``, ``flops``, ``zen``, ``naswot``)
    #: besides the training ones; no other optimizer is offered them
    training_free: bool = False

    def __init__(self, space: SearchSpace, fidelities: Mapping[str, Fidelity], rng: np.random.Generator, **options):
        self.space = space
        self.fidelities = dict(fidelities)
        self.rng = rng
        if options:
            raise UserError(f"optimizer {self.name!r} has no option(s) {', '.join(sorted(options))}")

    @cached_property
    def high(self) -> str:
        """Name of the target (highest-level) fidelity."""
        return max(self.fidelities.values(), key=lambda f: (f.level, f.epochs)).name

    def ask(self) -> tuple[int, str] | None:
        """Next ``(nb201_index, fidelity)`` to evaluate, or ``None`` if it has nothing left to propose."""
        raise NotImplementedError

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        """Result of a finished trial: search score (NaN if it failed) and cost in seconds."""
        raise NotImplementedError

    #: whether the trial that ends after the time budget still counts (NB201's rule); False: the simulator cuts it
    overshoot: bool = True

    def recommends(self, trial: Trial) -> bool:
        """Whether the trial just told may become the incumbent (default: every one)."""
        return True


_REGISTRY: dict[str, type[Optimizer]] = {}
_DISCOVERED = False
#: library modules that register optimizers besides the ``baselines`` package
_CORE_MODULES: tuple[str, ...] = ("mfkdbench.mfkd.searches",)


def register(name: str):
    """Class decorator adding an optimizer to the registry under ``name``."""

    def deco(cls: type[Optimizer]) -> type[Optimizer]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"optimizer name {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    # plugins are found by name, as entry points are: the registry sits below the layers that register
    baselines = importlib.import_module("baselines")
    for name in _CORE_MODULES:
        importlib.import_module(name)
    for mod in sorted(pkgutil.iter_modules(baselines.__path__), key=lambda m: m.name):
        importlib.import_module(f"baselines.{mod.name}")


def optimizer_names() -> list[str]:
    """Registered optimizer names, sorted."""
    _discover()
    return sorted(_REGISTRY)


def optimizer_class(name: str) -> type[Optimizer]:
    _discover()
    if name not in _REGISTRY:
        raise UserError(f"unknown optimizer {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def make_optimizer(name: str, space: SearchSpace, fidelities: Mapping[str, Fidelity], rng: np.random.Generator,
                   **options) -> Optimizer:
    """Instantiate a registered optimizer."""
    return optimizer_class(name)(space, fidelities, rng, **options)
