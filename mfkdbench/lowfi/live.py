"""The live low fidelity: a training job trains the cells a search needs, and the runs land in a store.

The job is anything with ``key_fields(index) -> dict`` and ``run(index, arch)
-> record``; the real trainer's is :func:`mfkdbench.train.jobs.training_job`
(:func:`mfkdbench.train.jobs.live_source` builds a :class:`LiveSource` with it,
:func:`mfkdbench.train.jobs.setting_job` one from a :class:`LiveSetting`). This
layer never imports the trainer: the job is injected from above.

* :class:`LiveSource` trains a list of cells given in advance (``lowfi build``).
* :class:`LiveResolver` trains on demand inside searches: it is the resolver of
  a :class:`~mfkdbench.nb201.benchmark.LazyFidelity`, so the first search (of
  any seed, optimizer, process or Dask worker) that asks for a cell trains it,
  and every later one reads the stored run.

Sharing and crashes: one store per training setting. Before training a cell,
the resolver takes an exclusive ``flock`` on that run key's lock file next to
the store (``<store>.locks/<key hash>.lock``) and looks in the store again, so
a cell is trained at most once however many searches ask at the same moment.
The OS drops the lock when its holder dies, so a killed trainer blocks nobody;
its cell is simply trained by the next asker. A run reaches the store only as
one whole checksummed line (:class:`~mfkdbench.lowfi.store.LowFiStore`).

Determinism: a cell's score is its run's final validation accuracy, and its
run depends only on its key (the training seed is the setting's, never a
search's). Its cost (NB201 seconds on the simulated clock) depends only on the
cell too (:func:`live_costs`), never on what else the store holds, so results
do not depend on which search trained what, or on the number of workers.
"""
from __future__ import annotations

import fcntl
import hashlib
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.lowfi.sources import AUTHORS_NST_TIME_RATIO, store_source
from mfkdbench.lowfi.store import KEY_FIELDS, LowFiStore, check_search_split, run_key
from mfkdbench.nb201.benchmark import FidelityTable
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.tables import Tables


def missing_runs(job, store: LowFiStore, indices) -> list[int]:
    """The cells of ``indices`` (in order, once each) whose run with ``job``'s settings ``store`` lacks."""
    return [i for i in dict.fromkeys(map(int, indices)) if run_key(job.key_fields(i)) not in store]


class LiveSource:
    """Low fidelity by training: the cells a search needs are trained on demand by ``job`` and kept in a store."""

    def __init__(self, store_path, space: SearchSpace, job):
        self.store_path, self.space, self.job = store_path, space, job

    def ensure(self, indices) -> int:
        """Train the cells of ``indices`` that the store lacks; return how many were trained."""
        store = LowFiStore(self.store_path)
        todo = missing_runs(self.job, store, indices)
        for index in todo:
            store.append(self.job.run(index, self.space.arch(index)))
        return len(todo)

    def low_fidelity(self, tables: Tables, indices, cost_dataset: str | None = None,
                     name: str | None = None) -> FidelityTable:
        """Train what ``indices`` lacks, then the store's runs with this job's settings as a low fidelity."""
        self.ensure(indices)
        key = self.job.key_fields(0)
        return store_source(tables, key["dataset"], self.store_path, key["loss"], key["epochs"],
                            key["teacher_hash"], name, cost_dataset, key["fraction"], key["channels"], key["cells"])


@dataclass(frozen=True)
class LiveSetting:
    """One live low fidelity's training setting (with the teacher, what keys its runs) and its store.

    ``dataset`` is the training set (``digits`` for offline smoke runs),
    ``cost_dataset`` the NB201 dataset whose times price the runs. ``device``
    and ``data_dir`` say where and from what the runs are trained.
    """

    store: str
    dataset: str
    cost_dataset: str
    loss: str = "nst"
    epochs: int = 12
    fraction: float = 1.0
    channels: int = 16
    cells: int = 5
    batch_size: int = 256
    seed: int = 0
    teacher: str | None = None
    teacher_epochs: int = 200
    device: str = "cpu"
    data_dir: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "store", str(Path(self.store).expanduser().resolve()))

    def training(self) -> dict:
        """Keyword arguments of :func:`mfkdbench.train.jobs.training_job`."""
        return {k: getattr(self, k) for k in ("dataset", "loss", "epochs", "fraction", "channels", "cells",
                                              "batch_size", "seed", "teacher", "teacher_epochs", "device",
                                              "data_dir")}

    def matches(self, record: dict) -> bool:
        """Whether a store record is a run of this setting (whatever its cell and teacher)."""
        return all(record[k] == getattr(self, k) for k in KEY_FIELDS if k not in ("arch_index", "teacher_hash"))


def time_ratio(loss: str) -> float:
    """The fixed factor from NB201's cross-entropy time to a run with ``loss``: 1 for ``ce``; for the
    distillation losses the authors' median NST/CE ratio (their table has NST runs only)."""
    return 1.0 if loss == "ce" else AUTHORS_NST_TIME_RATIO


def live_costs(tables: Tables, setting: LiveSetting) -> np.ndarray:
    """Per cell, the simulated cost of one run: NB201's ``epochs``-epoch time on ``cost_dataset`` x
    ``fraction`` x :func:`time_ratio`; it depends on the cell alone, never on the runs stored."""
    if not tables.has(setting.cost_dataset, "time_200"):
        raise UserError(f"no NB201 training times for {setting.cost_dataset} to price the live runs")
    time_200 = tables.get(setting.cost_dataset, "time_200")
    return time_200 * setting.epochs / 200 * setting.fraction * time_ratio(setting.loss)


def lock_path(store_path: Path, key: tuple) -> Path:
    """The lock file of run ``key`` beside the store."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
    return store_path.parent / f"{store_path.name}.locks" / f"{digest}.lock"


@contextmanager
def held_lock(path: Path):
    """An exclusive ``flock`` on ``path`` for the block; the OS drops it if this process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_locked(path: Path) -> bool:
    """Whether another process holds ``path``'s lock right now (a training in progress)."""
    try:
        with open(path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


class LiveResolver:
    """``resolve(index) -> (score, cost)`` of the live low fidelity: the stored run of the cell, else trained now.

    ``make_job(setting)`` builds the job on first use (it loads the data and
    the teacher); ``trained`` counts the runs this object trained.
    """

    def __init__(self, setting: LiveSetting, tables: Tables, make_job: Callable):
        self.setting, self.make_job = setting, make_job
        self.space = SearchSpace(tables.index_codes)
        self.costs = live_costs(tables, setting)
        self.store = LowFiStore(setting.store)
        self._job = None
        self.trained = 0

    @property
    def job(self):
        if self._job is None:
            self._job = self.make_job(self.setting)
        return self._job

    def __call__(self, index: int) -> tuple[float, float]:
        record = self.record(index)
        check_search_split(record["dataset"], record.get("split"))
        score = record["curve"]["val_acc"][-1] if record["status"] == "ok" else math.nan
        return float(score), float(self.costs[index])

    def record(self, index: int) -> dict:
        """The cell's run: from the store, or trained under its key's lock and appended."""
        key = run_key(self.job.key_fields(index))
        record = self.store.get(key)
        if record is None:
            with held_lock(lock_path(self.store.path, key)):
                record = self.store.get(key)  # another process may have trained it while we waited
                if record is None:
                    self.store.append(self.job.run(index, self.space.arch(index)))
                    self.trained += 1
                    record = self.store.get(key)
        return record


class TrainingCounter:
    """How many runs of ``setting`` are stored (any teacher; the store read incrementally) and how many
    trainings run now (key locks held by some process)."""

    def __init__(self, setting: LiveSetting):
        self.setting, self.path = setting, Path(setting.store)
        self._store: LowFiStore | None = None

    def stored(self) -> int:
        if self._store is None:
            if not self.path.is_file():
                return 0
            self._store = LowFiStore(self.path)
        return sum(map(self.setting.matches, self._store.records()))

    def running(self) -> int:
        locks = self.path.parent / f"{self.path.name}.locks"
        return sum(map(is_locked, locks.glob("*.lock"))) if locks.is_dir() else 0


def mean_run_seconds(setting: LiveSetting) -> float | None:
    """Mean measured device seconds (training and evaluation) of the setting's stored runs; None without any."""
    path = Path(setting.store)
    runs = [r for r in LowFiStore(path).records() if setting.matches(r)] if path.is_file() else []
    times = [sum(r["curve"]["train_time_s"]) + sum(r["curve"].get("eval_time_s", [])) for r in runs]
    return float(np.mean(times)) if times else None


def max_trainings(costs: np.ndarray, candidates, budget_s: float, searches: int, sim_workers: int = 1) -> int:
    """At most how many cells ``searches`` searches of ``budget_s`` simulated seconds may ask at the live
    fidelity: a search starts evaluations, ``sim_workers`` at a time, while its clock is below the budget, and
    none costs less than the cheapest cell; never more than the cells there are."""
    cheapest = float(np.nanmin(costs[candidates]))
    per_search = (math.floor(budget_s / cheapest) + 1) * sim_workers
    return int(min(per_search * searches, len(candidates)))
