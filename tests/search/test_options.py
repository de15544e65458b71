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
