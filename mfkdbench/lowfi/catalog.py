"""The one place a benchmark is assembled: NB201 tables plus its fidelity sources.

:func:`load_benchmark` builds a dataset's benchmark from the tables with NB201's
own fidelities (``200``, ``ce12``, ``ce12@E``), or a named subset registered
beside its data (``cifar100-kd240``: :mod:`mfkdbench.lowfi.sources`), and with
``lowfi_store`` the cells of a low-fidelity store with its runs as ``nst12``, or
with ``live`` the whole space with a live low fidelity as ``nst12``
(:func:`live_benchmark`).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.lowfi import sources
from mfkdbench.lowfi.live import LiveResolver, LiveSetting, LiveSource
from mfkdbench.nb201.benchmark import SUBSETS, Benchmark, Fidelity, FidelityTable, LazyFidelity, nb201_fidelities
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.tables import DATASETS, Tables, canonical_dataset, load_tables

assert "cifar100-kd240" in SUBSETS, sources  # registered where the authors' data is read


@lru_cache(maxsize=4)
def _tables_for(data: str | None) -> Tables:
    return load_tables(data)


def benchmark_names() -> list[str]:
    """Datasets and named subsets."""
    return list(DATASETS) + list(SUBSETS)


def load_benchmark(name: str, data: str | None = None, seed_mode: str = "mean", lowfi_store=None,
                   live: LiveSetting | None = None, make_job=None) -> Benchmark:
    """A benchmark by name: a dataset (``cifar10``, ``ImageNet16-120`` ...) or a named subset.

    ``lowfi_store``: a low-fidelity store file; the benchmark is then
    :func:`store_benchmark` of it. ``live`` (with ``make_job``): :func:`live_benchmark`.
    """
    if live is not None and lowfi_store is not None:
        raise UserError("a live low fidelity keeps its runs in its own store; give it or --lowfi-store, not both")
    tables = _tables_for(data)
    if name in SUBSETS:
        bench = SUBSETS[name](tables, seed_mode)
    else:
        try:
            dataset = canonical_dataset(name)
        except UserError:
            raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(benchmark_names())}") from None
        bench = Benchmark(dataset, dataset, SearchSpace(tables.index_codes), tables, seed_mode)
    if live is not None:
        return live_benchmark(bench, live, make_job)
    return bench if lowfi_store is None else store_benchmark(bench, lowfi_store)


def live_setting(name: str, data: str | None = None, store=None, train_dataset: str | None = None,
                 cost_dataset: str | None = None, **training) -> LiveSetting:
    """The live low-fidelity setting for benchmark ``name``: training on ``train_dataset`` and pricing with
    ``cost_dataset`` (both default to the benchmark's dataset), runs in ``store`` (default: the default store)."""
    from mfkdbench.lowfi.store import default_store_path

    dataset = load_benchmark(name, data).dataset
    pick = lambda given, default: default if given is None else given  # noqa: E731  ('' is refused, not default)
    return LiveSetting(str(pick(store, default_store_path())), pick(train_dataset, dataset), pick(cost_dataset, dataset),
                       **training)


def live_benchmark(bench: Benchmark, setting: LiveSetting, make_job) -> Benchmark:
    """``bench`` (all its cells) offering ``setting``'s live runs as ``nst12``, the low fidelity ``mfkd`` uses,
    whatever the loss and epochs (its description names them); ``make_job(setting)`` gives the trainer
    (:func:`mfkdbench.train.jobs.setting_job`). Named ``<name>-live``."""
    if make_job is None:
        raise UserError("the live low fidelity needs a training job (mfkdbench.train.jobs.setting_job)")
    fid = Fidelity(sources.KD_NAME, setting.epochs, 0,
                   f"{setting.epochs} epochs, {setting.loss}, trained live on {setting.dataset} "
                   f"(C={setting.channels}, N={setting.cells}, fraction {setting.fraction}; store {setting.store}; "
                   f"cost: NB201 {setting.cost_dataset} times)")
    resolver = LiveResolver(setting, bench.tables, make_job)
    return bench.with_fidelities([LazyFidelity(fid, resolver)], name=f"{bench.name}-live")


def store_benchmark(bench: Benchmark, path, loss: str = "nst", epochs: int = 12) -> Benchmark:
    """``bench`` restricted to the cells with a finished ``loss`` run in the store at ``path``, which it offers
    as the low fidelity ``<loss><epochs>`` (``nst12`` by default, the one ``mfkd`` uses), named ``<name>-store``."""
    low = sources.store_source(bench.tables, bench.dataset, path, loss, epochs)
    cells = np.intersect1d(low.known, bench.space.candidates)
    if cells.size == 0:
        raise UserError(f"the store {path} holds no {loss}{epochs} run of a cell that {bench.name} searches")
    return bench.restricted(f"{bench.name}-store", cells).with_fidelities([low])


SOURCES = ("ce12", "kd", "live")


def low_fidelity(name: str, tables: Tables, dataset: str, **options) -> FidelityTable:
    """A low-fidelity source by name: ``ce12``, ``kd`` (authors' table, or ``path=`` a store) or ``live``.

    ``live`` options: ``path`` (the store), ``indices`` (cells to have),
    ``job`` (:func:`mfkdbench.train.jobs.training_job`), optional
    ``cost_dataset`` and ``name``.
    """
    if name == "ce12":
        tables.get(dataset, "val_acc_12")  # one clear line where the data lacks it
        return next(t for t in nb201_fidelities(tables, dataset) if t.fidelity.name == "ce12")
    if name == "kd":
        if options.get("path"):
            return sources.store_source(tables, dataset, **options)
        kd = sources.authors_nst12(tables, dataset)
        if kd is None:
            raise UserError(f"no knowledge-distillation table for {dataset} in this data; give a store path")
        return kd
    if name == "live":
        if options.get("job") is None:
            raise UserError("the live low fidelity needs a training job (mfkdbench.train.jobs.training_job)")
        source = LiveSource(options["path"], SearchSpace(tables.index_codes), options["job"])
        return source.low_fidelity(tables, options["indices"], options.get("cost_dataset"), options.get("name"))
    raise UserError(f"unknown low-fidelity source {name!r}; choose one of {', '.join(SOURCES)}")
