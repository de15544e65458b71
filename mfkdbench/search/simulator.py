"""Runs an optimizer against a benchmark on a deterministic simulated clock.

The pieces stay apart as in syne-tune: the :class:`~mfkdbench.nb201.benchmark.Benchmark`
(tables), the optimizer (ask/tell, :mod:`mfkdbench.search.optimizer`) and this backend,
which starts trials on workers and advances the clock.

Clock
    Each evaluation takes the seconds the benchmark gives for that architecture
    and fidelity. With one worker (the NB201 / NATS-Bench protocol) evaluations
    run one after another. With ``n_workers > 1`` the simulation is
    event-driven: idle workers (lowest id first) ask for trials at the current
    time, and the earliest-finishing trial is reported first; equal end times
    are reported in start order (trial id). An optimizer that has nothing to
    propose (``ask() -> None``) is asked again after the next result; when it
    has nothing to propose and nothing runs, the run ends, and the run's config
    says so (``ended``: ``"optimizer exhausted"``, else ``"budget"``).

Budget (:class:`Budget`)
    In simulated seconds, in evaluations, or both (whichever ends first). A
    trial may start while the clock is below the time budget and fewer than
    ``evaluations`` trials have started. ``overshoot=True`` (NB201's scripts:
    ``while total_time < budget: evaluate``) keeps every started trial, so the
    last ones may end after the budget; ``overshoot=False`` drops trials that
    would end after it (never told to the optimizer, not in the trajectory);
    an optimizer whose ``overshoot`` is False (``bohb-nb201``, as NB201's
    script) always runs under the latter, recorded in ``Run.config``.

Optimizer overhead
    The wall time spent in ``ask``/``tell`` is measured and reported as
    ``Run.overhead_s``, but not charged to the clock (charging it makes results
    depend on the machine, syne-tune issue #649) unless ``charge_overhead``.

Fidelities on offer
    Under a target fidelity ``T`` the optimizer gets ``T`` relabelled as level
    1 and every other fidelity of the benchmark with fewer epochs than ``T`` as
    level 0 (with ``T = 200``: ``ce12`` and added low fidelities such as KD
    tables), leaving out every fidelity measured on test images (CIFAR-10's
    ``ce12@E`` curve): those are for analysis only, and no target may be one.

Searches and their names
    ``simulate(bench, "rea@ce12", ...)``: a single-fidelity optimizer runs at
    the fidelity after ``@`` (default: the target) and is always labelled
    ``name@fidelity``; one that never evaluates the target is *low-fidelity
    only* and recommends its best cell by its own search score, as NB201's
    protocol does. A multi-fidelity optimizer (plain name) gets every
    fidelity below the target. ``Run.config`` records ``family`` and
    ``search_fidelity`` (:func:`resolve_search`).

Seeds
    The optimizer's generator is ``np.random.default_rng(seed)``; when the
    benchmark samples one training seed per high-fidelity evaluation
    (``seed_mode="sample"``) that draw uses the independent stream
    ``SeedSequence(seed, spawn_key=(1,))``.

Incumbent
    The best search score among evaluations at the highest fidelity observed so
    far (NaN scores never count; ties keep the earlier one), among the trials
    the optimizer ``recommends`` (all of them but for ``bohb-nb201``, whose
    incumbent comes from its top rung). Its report metric
    (test accuracy) is looked up afterwards and never reaches the optimizer.
"""
from __future__ import annotations

import heapq
import math
import time
import weakref
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from mfkdbench.nb201.benchmark import Benchmark, Fidelity
from mfkdbench.errors import UserError
from mfkdbench.inputs import MAX_EVALUATIONS, MAX_SIM_WORKERS
from mfkdbench.search.optimizer import (Optimizer, Trial, make_optimizer, optimizer_class, option_text,
                                        options_from_text, text_pairs)
from mfkdbench.search.presets import PRESETS, Preset, get_preset

__all__ = ["Budget", "Preset", "PRESETS", "get_preset", "Run", "Search", "resolve_search", "search_fidelities",
           "simulate"]

EVALUATION_COLUMNS = ("trial_id", "worker", "start", "end", "index", "fidelity", "score", "cost")
INCUMBENT_COLUMNS = ("time", "n_evals", "index", "fidelity", "score", "report")


@dataclass(frozen=True)
class Budget:
    """When a search stops: simulated seconds and/or number of evaluations."""

    seconds: float | None = None
    evaluations: int | None = None
    overshoot: bool = True  # NB201 rule: the last evaluation may end after the budget; False = cut it

    def check(self) -> Budget:
        if self.seconds is None and self.evaluations is None:
            raise UserError("a budget needs simulated seconds or a number of evaluations")
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise UserError(f"the time budget must be a positive number of seconds, got {self.seconds}")
        if self.evaluations is not None and self.evaluations < 1:
            raise UserError(f"the evaluation budget must be at least 1, got {self.evaluations}")
        return self

    def check_size(self, benchmark: Benchmark, target_fidelity: str, n_workers: int = 1) -> Budget:
        """Refuse a budget that buys more than :data:`~mfkdbench.inputs.MAX_EVALUATIONS` evaluations per search,
        estimated at the median cost of ``target_fidelity`` over the searched cells (a search would not end)."""
        self.check()
        if self.seconds is None or (self.evaluations or math.inf) <= MAX_EVALUATIONS:
            return self
        benchmark.fidelity(target_fidelity)
        table = next(t for t in benchmark.fidelity_tables() if t.fidelity.name == target_fidelity)
        median = float(np.nanmedian(table.costs[benchmark.space.candidates]))
        estimate = self.seconds * n_workers / median
        if estimate > MAX_EVALUATIONS:
            raise UserError(f"a budget of {self.seconds:g} simulated s buys about {estimate:.3g} evaluations per search "
                            f"({n_workers} worker(s), median cost {median:.0f} s at fidelity {target_fidelity} on "
                            f"{benchmark.name}); at most {MAX_EVALUATIONS:,} are allowed: give --budget at most "
                            f"{MAX_EVALUATIONS * median / n_workers:.3g}")
        return self


@dataclass(frozen=True)
class Run:
    """The trajectory of one search, with the report metric attached afterwards.

    The simulator hands back plain numpy columns; :attr:`evaluations` and
    :attr:`incumbents` build their DataFrames on first use (a DataFrame costs
    more than a short search), so code that only stores or aggregates runs
    never pays for them.
    """

    optimizer: str
    benchmark: str
    seed: int
    config: dict
    #: EVALUATION_COLUMNS as arrays, one entry per evaluation in the order results arrived
    evaluation_columns: dict
    #: INCUMBENT_COLUMNS as arrays, one entry per incumbent change
    incumbent_columns: dict
    final_index: int
    final_report: float
    report_metric: str
    overhead_s: float

    @cached_property
    def evaluations(self) -> pd.DataFrame:
        """trial_id, worker, start, end, index, fidelity, score, cost; in the order results arrived."""
        return pd.DataFrame(self.evaluation_columns)

    @cached_property
    def incumbents(self) -> pd.DataFrame:
        """One row per incumbent change: time, n_evals, index, fidelity, score, report."""
        return pd.DataFrame(self.incumbent_columns)

    @property
    def n_evaluations(self) -> int:
        """Number of evaluations, without building :attr:`evaluations`."""
        return len(self.evaluation_columns["index"])


def search_fidelities(benchmark: Benchmark, target: str, training_free: bool = False) -> dict[str, Fidelity]:
    """The fidelities an optimizer may use under ``target`` (see the module docstring); never one measured
    on test images, training-free ones only with ``training_free``."""
    top = benchmark.fidelity(target)
    if not top.searchable:
        raise UserError(f"fidelity {target!r} is measured on {top.measured_on} images, the report's; no search "
                        f"may use it (searchable: {', '.join(n for n, f in benchmark.fidelities.items() if f.searchable)})")
    if top.training_free:
        raise UserError(f"fidelity {target!r} is training-free: a stage of the training-free searches "
                        "(mf-nas, rea-zc), never a search's target")
    lower = [f for f in benchmark.fidelities.values()
             if f.epochs < top.epochs and f.searchable and (training_free or not f.training_free)]
    out = {f.name: replace(f, level=0) for f in sorted(lower, key=lambda f: (f.epochs, f.name))}
    out[top.name] = replace(top, level=1)
    return out


#: ``Search.family`` values
LOW_FIDELITY_ONLY, TARGET_ONLY, MULTI_FIDELITY = "low-fidelity-only", "target-only", "multi-fidelity"
TRAINING_FREE = "training-free"  # a search with a training-free stage (its optimizer asks for those fidelities)


@dataclass(frozen=True)
class Search:
    """What an optimizer spec means on a benchmark under a target fidelity (:func:`resolve_search`)."""

    label: str  # ``rea@ce12`` (single-fidelity: always ``name@fidelity``) or ``mfkd`` (multi-fidelity)
    optimizer: str  # the registered name
    family: str  # LOW_FIDELITY_ONLY, TARGET_ONLY, MULTI_FIDELITY or TRAINING_FREE
    search_fidelity: str | None  # the one fidelity a single-fidelity search evaluates; None for multi-fidelity
    fidelities: dict[str, Fidelity]  # what the optimizer is offered
    options: dict = field(default_factory=dict)  # the options the spec names (``mfkd[allocation=cost]``)

    @property
    def recommendation(self) -> str:
        """How the final cell is chosen, in words."""
        if self.family == LOW_FIDELITY_ONLY:
            return (f"best {self.search_fidelity} search score (never evaluates the target; "
                    "NB201's protocol)")
        return "best score at the highest fidelity evaluated"


#: resolved searches per benchmark (a benchmark's fidelities are fixed at construction)
_SEARCHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def resolve_search(benchmark: Benchmark, spec: str, target: str) -> Search:
    """The search ``spec`` names: ``NAME@FIDELITY`` runs a single-fidelity optimizer at ``FIDELITY``, a plain
    ``NAME`` at ``target``; a multi-fidelity optimizer takes no ``@`` and uses every fidelity below ``target``."""
    searches = _SEARCHES.setdefault(benchmark, {})
    key = (str(spec), str(target))
    if key not in searches:
        searches[key] = _resolve_search(benchmark, *key)
    return searches[key]


def _resolve_search(benchmark: Benchmark, spec: str, target: str) -> Search:
    head, at, fidelity = spec.partition("@")
    if at and not fidelity.strip():
        raise UserError(f"{spec!r} names no fidelity after '@'; give NAME@FIDELITY (e.g. rea@ce12) or NAME alone")
    name, options = spec_options(head)
    cls = optimizer_class(name)
    named = name + ("[" + ",".join(f"{k}={option_text(v)}" for k, v in sorted(options.items())) + "]" if options else "")
    if cls.multi_fidelity:
        if fidelity:
            raise UserError(f"{name} is multi-fidelity: it uses every fidelity below the target {target!r}, "
                            f"so it takes no @fidelity (got {spec!r})")
        family = TRAINING_FREE if cls.training_free else MULTI_FIDELITY
        return Search(named, name, family, None, search_fidelities(benchmark, target, cls.training_free), options)
    fidelity = fidelity or target
    fidelities = search_fidelities(benchmark, fidelity, cls.training_free)
    family = TRAINING_FREE if cls.training_free else TARGET_ONLY if fidelity == target else LOW_FIDELITY_ONLY
    return Search(f"{named}@{fidelity}", name, family, fidelity, fidelities, options)


def spec_options(head: str) -> tuple[str, dict]:
    """``mfkd[allocation=cost,beta=2]`` -> ``("mfkd", {"allocation": "cost", "beta": 2.0})``: the options a search
    spec names, each read as its option's type (a piece without ``=`` continues a list value: ``rungs=ce12,200``)."""
    if "[" not in head and "]" not in head:
        return head, {}
    name, _, rest = head.partition("[")
    if not rest.endswith("]") or "[" in rest or "]" in rest[:-1] or not rest[:-1].strip():
        raise UserError(f"{head!r}: give options as NAME[OPTION=VALUE,...] (e.g. mfkd[allocation=cost])")
    items: list[str] = []
    for piece in rest[:-1].split(","):
        if "=" in piece or not items:
            items.append(piece)
        else:
            items[-1] += "," + piece
    return name, options_from_text(name, text_pairs(items, "mfkd[allocation=cost]"))


def simulate(benchmark: Benchmark, optimizer: str, seed: int, budget: Budget, *, n_workers: int = 1,
             target_fidelity: str = "200", charge_overhead: bool = False,
             optimizer_options: dict | None = None) -> Run:
    """Run the search ``optimizer`` (a spec, :func:`resolve_search`) on ``benchmark`` until ``budget`` is spent;
    see the module docstring. ``Run.optimizer`` is the search's label (``rea@ce12``, ``mfkd``)."""
    budget.check()
    if int(n_workers) != n_workers or not 1 <= n_workers <= MAX_SIM_WORKERS:
        raise UserError(f"the number of workers must be an integer in 1..{MAX_SIM_WORKERS}, got {n_workers}")
    if int(seed) != seed or seed < 0:
        raise UserError(f"the seed must be a non-negative integer, got {seed}")
    seed, n_workers = int(seed), int(n_workers)
    search = resolve_search(benchmark, optimizer, target_fidelity)
    options = {**search.options, **(optimizer_options or {})}
    clash = sorted(k for k in set(search.options) & set(optimizer_options or {}) if search.options[k] != options[k])
    if clash:
        raise UserError(f"{optimizer!r} and the optimizer options give {', '.join(clash)} two values")
    opt = make_optimizer(search.optimizer, benchmark.space, search.fidelities, np.random.default_rng(seed), **options)
    if not opt.overshoot:
        budget = replace(budget, overshoot=False)
    noise = None
    if benchmark.seed_mode == "sample":
        noise = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    loop = _Loop(benchmark, opt, search.fidelities, budget, n_workers, charge_overhead, noise)
    loop.run()
    config = {
        "optimizer": search.label, "benchmark": benchmark.name, "dataset": benchmark.dataset, "seed": seed,
        "budget": dict(vars(budget)),  # asdict() of a flat dataclass, a tenth of its cost
        "n_workers": n_workers, "target_fidelity": target_fidelity,
        "family": search.family, "search_fidelity": search.search_fidelity,
        "recommendation": search.recommendation,
        "charge_overhead": bool(charge_overhead), "seed_mode": benchmark.seed_mode,
        "optimizer_options": options, "fidelities": list(search.fidelities),
        "ended": "optimizer exhausted" if loop.exhausted else "budget",
    }
    return loop.result(search.label, seed, config)


class _Loop:
    """The event loop of one run: plain Python lists (a heap with several workers), arrays only at the end."""

    def __init__(self, benchmark, opt, fidelities, budget, n_workers, charge, noise):
        self.benchmark, self.opt, self.budget, self.charge = benchmark, opt, budget, charge
        objective = benchmark.objective()
        self.evaluators = {name: objective.evaluator(name, noise) for name in fidelities}
        self.rank = {name: (f.level, f.epochs) for name, f in fidelities.items()}
        self.space = benchmark.space
        self.n_workers = n_workers
        self.now = 0.0
        self.overhead = 0.0
        self.idle = list(range(n_workers))
        self.running: list = []  # heap of (end, trial_id, worker, start, trial, score, cost)
        self.n_started = 0
        self.evals: list[tuple] = []
        self.incumbents: list[tuple] = []
        self.best: tuple | None = None  # (rank, score, index, fidelity)
        self.exhausted = False  # the last ask() had nothing to propose

    def run(self) -> None:
        if self.n_workers == 1:
            self.run_sequential()
        else:
            self.run_events()

    def run_events(self) -> None:
        """Any number of workers: a heap of running trials, the earliest end reported first."""
        seconds, cut = self.budget.seconds, not self.budget.overshoot
        self.fill()
        while self.running:
            end, trial_id, worker, start, trial, score, cost = heapq.heappop(self.running)
            if cut and seconds is not None and end > seconds:
                break  # every trial still running ends later still
            self.now = max(self.now, end)
            self.evals.append((trial_id, worker, start, end, trial.index, trial.fidelity, score, cost))
            self.timed(self.opt.tell, trial, score, cost)
            if self.opt.recommends(trial):
                self.update_incumbent(trial, score, end)
            heapq.heappush(self.idle, worker)
            self.fill()

    def run_sequential(self) -> None:
        """One worker: the same events as :meth:`run` with the heap left out (the common case, kept lean:
        local variables only, written back at the end)."""
        opt, evaluators, evals, rank, perf = self.opt, self.evaluators, self.evals, self.rank, time.perf_counter
        ask, tell, make_trial, allowed = opt.ask, opt.tell, Trial._make, self.space.allowed
        n_cells = len(allowed)
        seconds = math.inf if self.budget.seconds is None else self.budget.seconds
        limit = math.inf if self.budget.evaluations is None else self.budget.evaluations
        cut, charge = not self.budget.overshoot, self.charge
        recommends_all = type(opt).recommends is Optimizer.recommends
        now, overhead, n_started = self.now, self.overhead, self.n_started
        while n_started < limit and now < seconds:
            t0 = perf()
            proposal = ask()
            t1 = perf()
            overhead += t1 - t0
            if charge:
                now += t1 - t0
            if proposal is None:
                self.exhausted = True
                break
            try:
                index, fidelity = proposal
                index = int(index)
                evaluate = evaluators[fidelity]
                valid = 0 <= index < n_cells and allowed[index]
            except (TypeError, ValueError, KeyError):
                valid = False
            if not valid:
                self.check(proposal)  # raises the error that says what is wrong
            score, cost = evaluate(index)
            trial = make_trial((n_started, index, fidelity))
            n_started += 1
            end = now + cost
            if cut and end > seconds:
                break
            evals.append((trial.trial_id, 0, now, end, index, fidelity, score, cost))
            now = end
            t0 = perf()
            tell(trial, score, cost)
            t1 = perf()
            overhead += t1 - t0
            if charge:
                now += t1 - t0
            best = self.best  # the common case, no new incumbent, is decided here; update_incumbent has the rule
            if (score == score and (recommends_all or opt.recommends(trial))
                    and (best is None or rank[fidelity] > best[0] or (rank[fidelity] == best[0] and score > best[1]))):
                self.update_incumbent(trial, score, end)
        self.now, self.overhead, self.n_started = now, overhead, n_started

    def can_start(self) -> bool:
        b = self.budget
        return not ((b.evaluations is not None and self.n_started >= b.evaluations)
                    or (b.seconds is not None and self.now >= b.seconds))

    def fill(self) -> None:
        while self.idle and self.can_start():
            proposal = self.timed(self.opt.ask)
            self.exhausted = proposal is None
            if proposal is None:
                return
            index, fidelity = self.check(proposal)
            score, cost = self.evaluators[fidelity](index)
            trial = Trial(self.n_started, index, fidelity)
            worker = heapq.heappop(self.idle)
            heapq.heappush(self.running, (self.now + cost, trial.trial_id, worker, self.now, trial, score, cost))
            self.n_started += 1

    def timed(self, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        dt = time.perf_counter() - t0
        self.overhead += dt
        if self.charge:
            self.now += dt
        return out

    def check(self, proposal) -> tuple[int, str]:
        try:
            index, fidelity = proposal
            index = int(index)
        except (TypeError, ValueError):
            raise UserError(f"optimizer {self.opt.name!r} proposed {proposal!r}, not (nb201_index, fidelity)") from None
        if index not in self.space:
            raise UserError(f"optimizer {self.opt.name!r} proposed index {index}, outside the search space")
        if fidelity not in self.rank:
            raise UserError(f"optimizer {self.opt.name!r} proposed fidelity {fidelity!r}; on offer: {', '.join(self.rank)}")
        return index, fidelity

    def update_incumbent(self, trial: Trial, score: float, end: float) -> None:
        if math.isnan(score):
            return
        rank = self.rank[trial.fidelity]
        best = self.best
        if best is not None and (rank < best[0] or (rank == best[0] and score <= best[1])):
            return
        self.best = (rank, score, trial.index, trial.fidelity)
        if best is None or (best[2], best[3]) != (trial.index, trial.fidelity):
            self.incumbents.append((end, len(self.evals), trial.index, trial.fidelity, score))

    def result(self, optimizer: str, seed: int, config: dict) -> Run:
        evals = _columns(self.evals, EVALUATION_COLUMNS, (np.int64, np.int64, np.float64, np.float64, np.int64, str,
                                                          np.float64, np.float64))
        inc = _columns(self.incumbents, INCUMBENT_COLUMNS[:-1], (np.float64, np.int64, np.int64, str, np.float64))
        inc["report"] = np.asarray(self.benchmark.report(inc["index"]), dtype=np.float64)
        final_index = -1 if self.best is None else int(self.best[2])
        final_report = math.nan if self.best is None else float(self.benchmark.report(final_index))
        return Run(optimizer, self.benchmark.name, seed, config, evals, inc, final_index, final_report,
                   self.benchmark.report_metric, self.overhead)


def _columns(rows: list[tuple], names: tuple[str, ...], dtypes: tuple) -> dict[str, np.ndarray]:
    """Named numpy columns from row tuples."""
    cols = list(zip(*rows)) if rows else [()] * len(names)
    return {name: np.array(col, dtype=dtype) for name, col, dtype in zip(names, cols, dtypes)}
