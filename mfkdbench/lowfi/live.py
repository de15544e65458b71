"""The live low fidelity: a training job trains the cells a search needs, and the runs land in a store.

The job is anything with ``key_fields(index) -> dict`` and ``run(index, arch)
-> record``; the real trainer's is :func:`mfkdbench.train.jobs.training_job`
(:func:`mfkdbench.train.jobs.live_source` builds a :class:`LiveSource` with it).
A cell whose run key is already in the store is not trained again; results come
back through :func:`~mfkdbench.lowfi.sources.store_source`, so live and stored
runs share one path.
"""
from __future__ import annotations

from mfkdbench.lowfi.sources import store_source
from mfkdbench.lowfi.store import LowFiStore, run_key
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
