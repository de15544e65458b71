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

Every module of the ``baselines`` folder is imported when the registry is
first read, so no other file needs to change. The folder is the package
``mfkdbench.baselines``: installed there by ``pip``, and in a checkout through
the link ``mfkdbench/baselines -> ../baselines``.
"""
from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
from collections.abc import Mapping
from functools import cached_property
from typing import NamedTuple

import numpy as np

from mfkdbench.nb201.benchmark import Fidelity
from mfkdbench.errors import MissingLibrary, UserError
from mfkdbench.nb201.space import SearchSpace


class Range(NamedTuple):
    """The values a numeric option takes: ``low <= v <= high`` (``None``: unbounded; a bound is left out where
    ``low_open`` / ``high_open``), whole numbers where ``integer``."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def admits(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and int(value) != value:
            return False
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        return low_ok and (self.high is None or (value < self.high if self.high_open else value <= self.high))

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a number"
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        high = None if self.high is None else f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"{kind} {' and '.join(b for b in (low, high) if b)}".rstrip()


#: Hyperband's eta in every optimizer with brackets (a larger one puts more cells in a bracket than the space holds)
ETA = Range(2, 100, integer=True)


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
    #: one non-default value per constructor option, each of which changes a short seeded search
    #: (tests/search/test_options.py runs them all: an option that changes nothing is a bug)
    option_probes: dict[str, object] = {}
    #: options of a parent class that this one refuses with a :class:`UserError` rather than ignores
    refused_options: tuple[str, ...] = ()
    #: the values each numeric option takes, merged along the class hierarchy; checked before the optimizer is
    #: built (:func:`check_option_values`; every numeric option has one, tests/search/test_options.py)
    option_ranges: dict[str, Range] = {}

    def __new__(cls, *args, **options):
        check_option_values(cls, options)
        return super().__new__(cls)

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

    def library(self, module: str, extra: str):
        """Import ``module`` of an optional optimizer library; without it a :class:`MissingLibrary` error with the
        install line (so the default grid skips this optimizer and says why)."""
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise MissingLibrary(f"{self.name} needs {exc.name or module}: pip install -e \".[{extra}]\"") from None


#: the package of the ``baselines`` folder, one optimizer per module
BASELINES = "mfkdbench.baselines"
_REGISTRY: dict[str, type[Optimizer]] = {}
_DISCOVERED = False
#: library modules that register optimizers besides the ``mfkdbench.baselines`` package
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
    baselines = importlib.import_module(BASELINES)
    for name in _CORE_MODULES:
        importlib.import_module(name)
    for mod in sorted(pkgutil.iter_modules(baselines.__path__), key=lambda m: m.name):
        importlib.import_module(f"{BASELINES}.{mod.name}")


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


def option_ranges(cls: type[Optimizer]) -> dict[str, Range]:
    """:attr:`Optimizer.option_ranges` of an optimizer class, merged along its class hierarchy."""
    out: dict[str, Range] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("option_ranges", {}))
    return out


def check_option_values(cls: type[Optimizer], options: Mapping[str, object]) -> None:
    """Refuse, in one line, a numeric option outside its :class:`Range` (``None`` keeps an option's default);
    :class:`Optimizer` runs it before any constructor."""
    ranges = option_ranges(cls)
    for key, value in options.items():
        if key in ranges and value is not None and not ranges[key].admits(value):
            raise UserError(f"option {key} of {cls.name} must be {ranges[key]}, got {value!r}")


#: parameters of ``__init__`` and of the ``make_*`` hooks that are not options
_NOT_OPTIONS = ("self", "space", "fidelities", "rng", "seed", "max_t", "scenario")


def optimizer_options(name: str) -> dict[str, object]:
    """Options of a registered optimizer and their defaults: the keyword parameters of the ``__init__`` methods
    along its class hierarchy and of the ``make_*`` hooks a constructor hands its options to (the library
    adapters), the most derived default first; options it refuses (``refused_options``) included."""
    out: dict[str, object] = {}
    for klass in optimizer_class(name).__mro__:
        if klass is Optimizer or not issubclass(klass, Optimizer):
            continue
        for attr, method in vars(klass).items():
            if attr != "__init__" and not attr.startswith("make_"):
                continue
            for p in inspect.signature(method).parameters.values():
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in _NOT_OPTIONS:
                    out.setdefault(p.name, None if p.default is p.empty else p.default)
    return out


def text_pairs(items, example: str) -> dict[str, str]:
    """``["beta=2", "allocation=cost"]`` -> ``{"beta": "2", "allocation": "cost"}``: each item ``NAME=VALUE``,
    every name once (``example`` shows the form in the error)."""
    pairs: dict[str, str] = {}
    for item in items:
        name, eq, text = item.partition("=")
        if not eq or not name.strip():
            raise UserError(f"{item!r} is not NAME=VALUE (e.g. {example})")
        if name.strip() in pairs:
            raise UserError(f"{name.strip()!r} given twice")
        pairs[name.strip()] = text
    return pairs


def options_from_text(name: str, pairs: Mapping[str, str]) -> dict[str, object]:
    """Typed options of optimizer ``name`` from ``{option: text}`` (the command line's ``--option K=V``): each
    value is read as its option's type (its :class:`Range`'s, else that of its default or, where the default is
    None, of the class's probe value): ``true``/``false``, an integer, a finite number, a word, or a comma list."""
    known, cls = optimizer_options(name), optimizer_class(name)
    unknown = sorted(set(pairs) - set(known))
    if unknown:
        taken = sorted(set(known) - set(cls.refused_options))
        raise UserError(f"optimizer {name!r} has no option(s) {', '.join(unknown)}; "
                        f"its options: {', '.join(taken) or 'none'}")
    probes, ranges = cls.option_probes, option_ranges(cls)
    return {key: _typed(name, key, text, _example(ranges.get(key), known[key], probes.get(key)))
            for key, text in pairs.items()}


def _example(allowed: Range | None, default: object, probe: object) -> object:
    """A value of an option's type: its range's kind, else its default, else its probe value."""
    if allowed is not None:
        return 0 if allowed.integer else 0.0
    return default if default is not None else probe


def _typed(name: str, key: str, text: str, example: object) -> object:
    text = text.strip()
    if isinstance(example, (list, tuple)):
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise UserError(f"option {key} of {name} takes a comma list without empty items, got {text!r}")
        return items
    if isinstance(example, bool):
        if text.lower() not in ("true", "false"):
            raise UserError(f"option {key} of {name} takes true or false, got {text!r}")
        return text.lower() == "true"
    if isinstance(example, int):
        try:
            return int(text)
        except ValueError:
            raise UserError(f"option {key} of {name} takes an integer, got {text!r}") from None
    if isinstance(example, float):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise UserError(f"option {key} of {name} takes a finite number, got {text!r}")
        return value
    if not text:
        raise UserError(f"option {key} of {name} takes a value, got an empty one")
    return text


def optimizers_text() -> str:
    """Every registered optimizer: what it searches, its first docstring line and its options with defaults."""
    lines = []
    for name in optimizer_names():
        cls = optimizer_class(name)
        kind = "multi-fidelity" if cls.multi_fidelity else "single-fidelity (NAME@FIDELITY)"
        if cls.training_free:
            kind += ", with training-free fidelities"
        summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split()).split(". ")[0].rstrip(".")
        options = {k: v for k, v in optimizer_options(name).items() if k not in cls.refused_options}
        lines.append(f"{name}: {kind}. {summary}.")
        lines.append("    options: " + (", ".join(f"{k}={option_text(v)}" for k, v in options.items()) or "none"))
    return "\n".join(lines)


def option_text(default: object) -> str:
    """A default as ``--option`` writes it (None: chosen by the optimizer from the fidelities and other options)."""
    if default is None:
        return "auto"
    if isinstance(default, bool):
        return str(default).lower()
    return ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
