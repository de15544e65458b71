"""Where the cells of a comparison run: local processes (default) or a Dask cluster.

Every executor maps a picklable top-level function over tasks and yields the
results as they finish, in any order; the caller stores each one at once.
Used as a context manager, an executor connects on entering (an unreachable
Dask scheduler fails there, before the caller writes anything) and keeps the
connection for every ``map_unordered`` inside.

Dask rather than Ray for scale-out: it is pure Python (``pip install dask
distributed``, no large binary wheel or separate runtime), its
``LocalCluster`` starts in-process for tests, and a real cluster is one
``dask scheduler`` / ``dask worker ADDRESS`` per machine. It is optional: only
``--executor dask`` imports it.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from mfkdbench.errors import UserError
from mfkdbench.inputs import MAX_PROCESSES

EXECUTORS = ("local", "dask")


def _context():
    """``fork`` where available: workers inherit the loaded tables instead of reading them again."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _exit_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when its parent dies (e.g. SIGKILL), instead of lingering as an orphan."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker_count(workers: int | None) -> int:
    """``workers``, or the CPU count when None; :class:`UserError` outside 1..MAX_PROCESSES."""
    count = int(os.cpu_count() or 1) if workers is None else int(workers)
    if count < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if count > MAX_PROCESSES:
        raise UserError(f"--workers must be at most {MAX_PROCESSES}, got {workers}")
    return count


def _bounded(submit: Callable, fn: Callable, tasks: Iterator, running: set, most: int,
             wait_first: Callable = lambda futures: wait(futures, return_when=FIRST_COMPLETED)) -> Iterator:
    """Futures of ``fn`` over ``tasks`` as they finish, drawing a task only when fewer than ``most`` run or wait
    (a task is claimed when drawn, so the others stay free for another process)."""
    while True:
        for task in tasks:
            running.add(submit(fn, task))
            if len(running) >= most:
                break
        if not running:
            return
        finished, _ = wait_first(running)
        for fut in finished:
            running.discard(fut)
            yield fut


class LocalExecutor:
    """``workers`` local processes; one worker runs the cells in this process."""

    def __init__(self, workers: int | None = None):
        self.workers = _worker_count(workers)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def map_unordered(self, fn: Callable, tasks: Iterable) -> Iterator:
        if self.workers == 1:
            yield from map(fn, tasks)
            return
        with ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_exit_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            running: set = set()
            try:
                for fut in _bounded(pool.submit, fn, iter(tasks), running, 2 * self.workers):
                    yield fut.result()
            finally:
                for fut in running:
                    fut.cancel()


class DaskExecutor:
    """A Dask cluster: the scheduler at ``address``, or a local cluster of ``workers`` processes."""

    def __init__(self, address: str | None = None, workers: int | None = None, connect_timeout: float = 30.0):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UserError("--executor dask needs Dask: pip install 'mfkdbench[dask]'") from None
        self.address = address
        self.connect_timeout = connect_timeout
        self.workers = _worker_count(workers)
        self._client = self._cluster = None

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster

        try:
            if self.address:
                self._client = Client(self.address, timeout=f"{self.connect_timeout}s")
            else:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, dashboard_address=None)
                self._client = Client(self._cluster)
        except (OSError, ValueError, TypeError) as exc:  # ValueError, TypeError: not an address
            raise UserError(f"cannot reach the Dask scheduler {self.address!r} ({exc})") from None
        return self

    def __exit__(self, *exc) -> None:
        for part in (self._client, self._cluster):
            if part is not None:
                part.close()
        self._client = self._cluster = None

    def map_unordered(self, fn: Callable, tasks: Iterable) -> Iterator:
        from distributed import wait as dask_wait

        connected_here = self._client is None
        if connected_here:
            self.__enter__()
        try:
            submit = lambda f, t: self._client.submit(f, t, pure=False)  # noqa: E731
            for fut in _bounded(submit, fn, iter(tasks), set(), 2 * max(1, len(self._client.nthreads())),
                                lambda futures: dask_wait(futures, return_when="FIRST_COMPLETED")):
                yield fut.result()
        finally:
            if connected_here:
                self.__exit__()


def make_executor(name: str, workers: int | None = None, scheduler: str | None = None):
    """An executor by name (``local`` or ``dask``)."""
    if name == "local":
        if scheduler:
            raise UserError("--scheduler only applies to --executor dask")
        return LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler, workers)
    raise UserError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
