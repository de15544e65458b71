"""Low-fidelity sources behind one interface, chosen by name, and the ``cifar100-kd240`` subset.

A source gives a :class:`~mfkdbench.nb201.benchmark.FidelityTable`: per NB201
index, a search score and a cost in NB201 seconds.
:func:`mfkdbench.lowfi.catalog.load_benchmark` assembles benchmarks from them.

* ``ce12`` -- NB201's 12-epoch cross-entropy schedule, already in every
  benchmark built from data that has it (cost: 12/200 of the 200-epoch time).
* ``kd`` -- a knowledge-distillation table: the MF-KD authors' NST runs
  (:func:`authors_nst12`, registered as ``nst12`` on ``cifar100-kd240``, the
  cells it covers, so no search meets a cell without a value) or a
  :class:`~mfkdbench.lowfi.store.LowFiStore` file (:func:`store_source`).
* ``live`` -- :class:`~mfkdbench.lowfi.live.LiveSource`: a training job (the
  real trainer: :func:`mfkdbench.train.jobs.live_source`) trains the cells the
  store lacks; the runs land in the store and come back through the ``kd`` path.

Cost normalization (the authors' runs were on another GPU): NB201 seconds =
``GPU_FACTOR * authors' seconds``, where ``GPU_FACTOR`` compares the *same
network under the same recipe and loss* on both machines: the NB201 ResNet
cell (index 11472), 200 epochs of cross-entropy, NB201's recorded time over
the authors' teacher run (:data:`AUTHORS_TEACHER_TIME_S`). Because the factor
comes from a plain cross-entropy run, the NST runs keep their own extra cost
(teacher forward pass, NST loss). The 12 log-only runs have no training time
(and no x-valid score: they score NaN);
they get their NB201 12-epoch time times the median, over the 228 timed
runs, of (normalized NST time / NB201 12-epoch time): :data:`AUTHORS_NST_TIME_RATIO`,
which also prices every run of the live low fidelity (:mod:`mfkdbench.lowfi.live`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mfkdbench.nb201.benchmark import Benchmark, Fidelity, FidelityTable, register_subset
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.errors import UserError
from mfkdbench.nb201.tables import Tables
from mfkdbench.lowfi.store import LowFiStore

#: NB201's ResNet cell, the authors' teacher
TEACHER_INDEX = 11472
#: the authors' CIFAR-100 teacher: summed train_time_s of its 200 epochs (nb201-kd teachers file, resnet.pth)
AUTHORS_TEACHER_TIME_S = 3990.217023
#: the authors' NST table covers CIFAR-100 indices 0..239
KD240 = np.arange(240)
KD_NAME = "nst12"
#: median over the authors' 228 timed CIFAR-100 NST runs of (normalized NST time / NB201 12-epoch CE time),
#: :func:`authors_nst_time_ratio` of the shipped table
AUTHORS_NST_TIME_RATIO = 0.7756
#: the authors' runs that survive only as a text log: x-test per epoch, no x-valid
LOG_ONLY = np.array([224, 227, 228, 230, 231, *range(233, 240)])


def gpu_factor(tables: Tables, dataset: str = "cifar100") -> float:
    """NB201 seconds per second of the authors' GPU (see the module docstring)."""
    return float(tables.get(dataset, "time_200")[TEACHER_INDEX] / AUTHORS_TEACHER_TIME_S)


def _median_time_ratio(costs: np.ndarray, known: np.ndarray, time_12: np.ndarray) -> float:
    timed = known[np.isfinite(costs[known])]
    return float(np.median(costs[timed] / time_12[timed]))


def authors_nst_time_ratio(tables: Tables, dataset: str = "cifar100") -> float:
    """Median over the authors' timed NST runs of (their time in NB201 seconds / NB201's 12-epoch CE time)."""
    time_12 = tables.get(dataset, "time_200") * 12 / 200
    costs = tables.get(dataset, "nst12_time") * gpu_factor(tables, dataset)
    return _median_time_ratio(costs, np.flatnonzero(np.isfinite(costs)), time_12)


def _impute_times(costs: np.ndarray, known: np.ndarray, time_12: np.ndarray) -> np.ndarray:
    """Fill missing costs of ``known`` cells: their 12-epoch NB201 time x the median ratio of the timed ones."""
    ratio = _median_time_ratio(costs, known, time_12)
    out = costs.copy()
    missing = known[~np.isfinite(costs[known])]
    out[missing] = time_12[missing] * ratio
    return out


def authors_nst12(tables: Tables, dataset: str) -> FidelityTable | None:
    """The MF-KD authors' CE + 25 NST runs, or None where the data has none.

    Score: the epoch-12 x-valid accuracy. The 12 log-only runs (:data:`LOG_ONLY`)
    kept only their x-test accuracy, measured on the report's images, so they
    score NaN here (a run whose validation result is lost: it costs its time
    and informs no model); their x-test values stay in the tables for analysis.
    """
    if not tables.has(dataset, "nst12_val"):
        return None
    scores = tables.get(dataset, "nst12_val").copy()
    ran = np.flatnonzero(np.isfinite(scores) | np.isfinite(tables.get(dataset, "nst12_test")))
    time_12 = tables.get(dataset, "time_200") * 12 / 200
    costs = _impute_times(tables.get(dataset, "nst12_time") * gpu_factor(tables, dataset), ran, time_12)
    fid = Fidelity(KD_NAME, 12, 0, "12 epochs, CE + 25 NST (MF-KD authors' runs), x-valid accuracy "
                                   "(NaN for the 12 runs that kept only x-test)")
    return FidelityTable(fid, scores, costs)


def store_source(tables: Tables, dataset: str, path, loss: str = "nst", epochs: int = 12,
                 teacher_hash: str | None = None, name: str | None = None, cost_dataset: str | None = None,
                 fraction: float = 1.0, channels: int = 16, cells: int = 5) -> FidelityTable:
    """A low fidelity from the ``dataset`` runs of a :class:`~mfkdbench.lowfi.store.LowFiStore` file.

    Costs: the store's training seconds scaled to NB201's by the median, over
    cells the store also trained with plain cross-entropy for ``epochs``
    epochs, of (NB201 ``epochs``-epoch time / stored CE time); without such CE
    runs, the median over the stored runs themselves (which then absorbs the
    teacher's extra cost: flagged in the description). NB201's times are those
    of ``cost_dataset`` (default ``dataset``): a training set NB201 lacks (the
    offline ``digits``) borrows a named NB201 dataset's times, so its costs
    are that dataset's seconds for the same cells, said in the description.
    ``fraction``, ``channels`` and ``cells`` select the runs' training setup.
    """
    if not Path(path).is_file():
        raise UserError(f"no low-fidelity store at {path}")
    store = LowFiStore(path)
    setup = {"fraction": fraction, "channels": channels, "cells": cells}
    runs = store.arrays(dataset, loss, epochs, teacher_hash, **setup)
    known = np.flatnonzero(np.isfinite(runs["val"]))
    if known.size == 0:
        raise UserError(f"the store {path} holds no finished {dataset}/{loss}/{epochs}-epoch runs "
                        f"(fraction {fraction}, C={channels}, N={cells})")
    cost_dataset = cost_dataset or dataset
    if not tables.has(cost_dataset, "time_200"):
        raise UserError(f"no NB201 training times for {cost_dataset}; name the NB201 dataset whose times "
                        "scale the store's costs (cost_dataset)")
    nb201_time = tables.get(cost_dataset, "time_200") * epochs / 200
    reference, note = runs, "cost calibrated on these runs"
    if loss != "ce":
        ce = store.arrays(dataset, "ce", epochs, **setup)
        if np.isfinite(ce["time"]).any():
            reference, note = ce, "cost calibrated on stored CE runs"
    if cost_dataset != dataset:
        note += f" against NB201 {cost_dataset} times"
    ok = np.isfinite(reference["time"]) & (reference["time"] > 0)
    factor = float(np.median(nb201_time[ok] / reference["time"][ok]))
    costs = _impute_times(runs["time"] * factor, known, nb201_time)
    fid = Fidelity(name or f"{loss}{epochs}", epochs, 0, f"{epochs} epochs, {loss} (store {path}; {note})")
    return FidelityTable(fid, runs["val"], costs)


@register_subset("cifar100-kd240")
def kd240(tables: Tables, seed_mode: str = "mean") -> Benchmark:
    """CIFAR-100 restricted to the 240 cells (indices 0..239) with the authors' NST runs."""
    low = authors_nst12(tables, "cifar100")
    if low is None or not np.array_equal(np.flatnonzero(np.isfinite(low.costs)), KD240):
        raise UserError("cifar100-kd240 needs the MF-KD authors' NST table (nb201-kd/) for CIFAR-100 indices 0..239")
    full = Benchmark("cifar100", "cifar100", SearchSpace(tables.index_codes), tables, seed_mode)
    return full.restricted("cifar100-kd240", KD240).with_fidelities([low])

