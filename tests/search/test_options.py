"""Every option of every registered optimizer changes its search.

Each optimizer class lists, in ``option_probes``, one non-default value per constructor option (the keyword
parameters of the ``__init__`` methods along its class hierarchy, read from their signatures). A seeded short
search with the probe must propose another sequence of (cell, fidelity) than the same search with the defaults.
An option without a probe, a probe of no option, or a probe that leaves the search unchanged fails; an option a
class takes from a parent but cannot use is listed in ``refused_options`` and must be refused. A class may
run its probes longer (``probe_evaluations``) where an option only acts late in a search, and says why there, and
name options a probe needs besides its own (``probe_context``: ``max_low_share`` acts with ``allocation="cost"``).
The searches run on the whole CIFAR-100 space, or on the 240 cells with NST runs where a probe needs ``nst12``.
"""
import math
import re

import numpy as np
import pytest

from mfkdbench.search.optimizer import optimizer_class, optimizer_names, optimizer_options

#: evaluations of a probe search, unless the class says otherwise
EVALUATIONS = 40
NAMES = optimizer_names()


def constructor_options(cls) -> set[str]:
    """Keyword parameters of the ``__init__`` methods from ``cls`` up to :class:`Optimizer` (which takes none), and
    of the ``make_*`` factory hooks a constructor hands its options to (the library adapters build their
    library's scheduler there): :func:`~mfkdbench.search.optimizer.optimizer_options`."""
    return set(optimizer_options(cls.name))


@pytest.fixture(scope="module")
def benches():
    from mfkdbench.lowfi.catalog import load_benchmark

    return [load_benchmark(name) for name in ("cifar100", "cifar100-kd240")]


def probe_benchmark(benches, name):
    """The whole space (cifar100) unless a probe needs a fidelity it lacks: then the 240 cells with NST runs."""
    from mfkdbench.errors import UserError
    from mfkdbench.search.simulator import search_fidelities

    full = benches[0]
    cls = optimizer_class(name)
    try:
        for option, probe in {None: None, **cls.option_probes}.items():
            options = {} if option is None else {**getattr(cls, "probe_context", {}).get(option, {}), option: probe}
            cls(full.space, search_fidelities(full, "200"), np.random.default_rng(0), **options)
    except UserError:
        return benches[1]
    return full


def proposals(bench, name, seed=0, **options):
    from mfkdbench.search.simulator import Budget, simulate

    evaluations = getattr(optimizer_class(name), "probe_evaluations", EVALUATIONS)
    run = simulate(bench, name, seed, Budget(evaluations=evaluations), target_fidelity="200",
                   optimizer_options=options)
    columns = run.evaluation_columns
    return list(zip(columns["index"].tolist(), columns["fidelity"].tolist()))


@pytest.mark.parametrize("name", NAMES)
def test_every_option_has_a_probe(name):
    cls = optimizer_class(name)
    probes = set(getattr(cls, "option_probes", {}))
    options = constructor_options(cls) - set(cls.refused_options)
    assert probes == options, f"{name}: options without a probe {sorted(options - probes)}, " \
                              f"probes of no option {sorted(probes - options)}"


@pytest.mark.parametrize("name,option", [(n, o) for n in NAMES for o in getattr(optimizer_class(n), "option_probes", {})])
def test_every_option_changes_the_search(benches, name, option):
    cls = optimizer_class(name)
    bench, context = probe_benchmark(benches, name), getattr(cls, "probe_context", {}).get(option, {})
    default = proposals(bench, name, **context)
    assert proposals(bench, name, **context) == default  # the comparison below is not noise
    assert proposals(bench, name, **context, **{option: cls.option_probes[option]}) != default, \
        f"{name}: {option}={cls.option_probes[option]!r} changes nothing"


@pytest.mark.parametrize("name,option", [(n, o) for n in NAMES for o in optimizer_class(n).refused_options])
def test_refused_options_are_refused(benches, name, option):
    """An option a class takes from a parent but cannot use is refused, with the parent's probe value."""
    from mfkdbench.errors import UserError

    probe = next(k.option_probes[option] for k in optimizer_class(name).__mro__[1:] if option in getattr(k, "option_probes", {}))
    with pytest.raises(UserError, match=option):
        proposals(benches[1], name, **{option: probe})


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.mark.parametrize("name", NAMES)
def test_every_numeric_option_has_a_range_holding_its_default_and_probe(name):
    from mfkdbench.search.optimizer import option_ranges

    cls = optimizer_class(name)
    ranges = option_ranges(cls)
    options = {k: v for k, v in optimizer_options(name).items() if k not in cls.refused_options}
    numeric = {k for k, v in options.items() if _numeric(v) or _numeric(cls.option_probes.get(k))}
    assert numeric <= set(ranges) <= set(optimizer_options(name)), f"{name}: without a range {sorted(numeric - set(ranges))}"
    for key in numeric:
        for value in (options[key], cls.option_probes.get(key)):
            assert value is None or ranges[key].admits(value), (key, value, str(ranges[key]))


def outside(allowed) -> list:
    """Values just outside a range: below, above, a fraction where it takes integers, not finite."""
    values = [math.nan, math.inf]
    if allowed.low is not None:
        values.append(allowed.low if allowed.low_open else allowed.low - (1 if allowed.integer else 1e-6))
    if allowed.high is not None:
        values.append(allowed.high if allowed.high_open else allowed.high + (1 if allowed.integer else 1e-6))
    if allowed.integer:
        values.append((allowed.low or 0) + 1.5)
    return values


@pytest.mark.parametrize("name", NAMES)
def test_values_outside_a_range_are_refused_before_the_optimizer_is_built(name, benches, monkeypatch):
    """One ``UserError`` line naming the option and its range, raised before the class is built (a value that
    slipped through once gave a traceback deep in a search, or a search that quietly did something else)."""
    from mfkdbench.errors import UserError
    from mfkdbench.search.optimizer import option_ranges
    from mfkdbench.search.simulator import search_fidelities

    cls = optimizer_class(name)
    monkeypatch.setattr(cls, "__init__", lambda *a, **k: pytest.fail(f"{name} built with a value out of range"))
    space, fidelities = benches[0].space, search_fidelities(benches[0], "200")
    for key, allowed in option_ranges(cls).items():
        for value in outside(allowed):
            with pytest.raises(UserError, match=f"option {key} of {name} must be {re.escape(str(allowed))}, got"):
                cls(space, fidelities, np.random.default_rng(0), **{key: value})  # make_optimizer calls the class
