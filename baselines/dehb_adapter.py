"""DEHB (Awad et al., IJCAI 2021: differential evolution inside Hyperband's brackets) through DEHB's ask/tell
interface, as ``dehb``.

Space and budgets
    The six edges as a ConfigSpace space of categorical op names
    (:func:`~mfkdbench.nb201.space.configuration_space`), which DEHB evolves as vectors in the unit cube. The
    rungs are Hyperband's ladder (:func:`~mfkdbench.baselines.hyperband.chosen_ladder`: ``ce12, 200`` under the
    200-epoch target, or ``rungs=[...]``); rung ``k`` is DEHB fidelity ``eta**k`` (``min_fidelity=1``,
    ``max_fidelity=eta**(R-1)``), as in the SMAC adapter. DEHB 0.1.2 counts its rungs with a floor of a float
    logarithm, which drops the lowest rung for some ``eta`` (10 with two rungs, 3 and 9 with six) and spaces
    others inexactly (``7**2`` as 49.000000000000014); here its spacing is ``eta**k`` exactly, one DEHB fidelity
    per rung. With ``min_clip`` or ``max_clip`` DEHB 0.1.2 sizes its brackets in NumPy integers, which
    ConfigSpace 1 refuses as a sample size: they are made Python integers (and ``max_clip`` alone, which DEHB
    ignores without ``min_clip``, gets ``min_clip=1``). Every evaluation is charged its full cost. DEHB
    minimises: it is told ``-score``, a failed (NaN) evaluation as fitness 0 (accuracy 0 %) or the worst fitness
    told so far if that is worse, so it is never selected over a result.

Seeds, files and logs
    DEHB is seeded from the run's generator (its own generators and the space's; it never draws from NumPy's
    global one, which a test checks). DEHB 0.1.2 creates its ``output_path`` (and its subpopulations do too):
    that is a temporary folder, removed as soon as DEHB is built; its results are kept for ``save_freq="end"``,
    which only its ``run`` (not used here) honours, so a search writes nothing. Its logger set-up replaces every
    loguru sink of the process with one on stdout and adds a file sink ``dehb.log`` with a writer thread;
    here that set-up is skipped (DEHB keeps loguru's logger, with the process's sinks, and logs nothing on
    ask and tell). ConfigSpace's deprecation warnings about DEHB's calls are silenced there.

Install
    DEHB 0.1.2, its latest release, declares ``numpy<2`` but runs on NumPy 2 (CI runs these tests on it), so
    it is installed without its dependency pins after its extra: ``pip install -e ".[dehb]" &&
    pip install --no-deps dehb==0.1.2``.
"""
from __future__ import annotations

import math
import tempfile
import warnings
from collections import deque
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

from mfkdbench.errors import MissingLibrary, UserError
from mfkdbench.nb201.space import configuration_space
from mfkdbench.search.optimizer import ETA, Optimizer, Range, Trial, register

from .hyperband import chosen_ladder

EXTRA = "dehb"
#: the install line of DEHB itself, after its extra (DEHB 0.1.2 declares numpy<2)
INSTALL = "pip install --no-deps dehb==0.1.2"
#: DEHB's mutation and crossover strategies (``strategy="<mutation>_<crossover>"``)
MUTATIONS = ("rand1", "rand2", "rand2dir", "best1", "best2", "currenttobest1", "randtobest1")
CROSSOVERS = ("bin", "exp")
BOUNDARY_FIXES = ("random", "clip")


@contextmanager
def quiet():
    """DEHB's calls into ConfigSpace, without ConfigSpace's deprecation warnings about them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@cache
def dehb_class():
    """DEHB's optimizer with exact ``eta**k`` rungs and without its logger set-up (see the module docstring)."""
    from dehb import DEHB

    class QuietDEHB(DEHB):
        def _setup_logger(self, resume, kwargs):
            from loguru import logger

            self.output_path = Path(kwargs["output_path"])
            self.logger = logger
            self.log_filename = None

        def _pre_compute_fidelity_spacing(self):
            self.max_SH_iter = round(math.log(self.max_fidelity / self.min_fidelity, self.eta)) + 1
            self.fidelities = self.min_fidelity * np.power(float(self.eta), np.arange(self.max_SH_iter))

        def _get_next_iteration(self, iteration):
            sizes, fidelities = super()._get_next_iteration(iteration)
            return [int(n) for n in sizes], fidelities  # clipped, NumPy integers, which ConfigSpace 1 refuses

    return QuietDEHB


@register("dehb")
class DEHBSearch(Optimizer):
    """DEHB: differential evolution in Hyperband's brackets, on NB201's fidelities."""

    multi_fidelity = True
    option_probes = {"eta": 2, "rungs": ["nst12", "200"], "mutation_factor": 0.9, "crossover_prob": 0.9,
                     "strategy": "currenttobest1_exp", "min_clip": 2, "max_clip": 2, "boundary_fix_type": "clip"}
    option_ranges = {"eta": ETA, "mutation_factor": Range(0, 2, low_open=True), "crossover_prob": Range(0, 1),
                     "min_clip": Range(1, integer=True), "max_clip": Range(1, integer=True)}

    def __init__(self, space, fidelities, rng, eta: int = 3, rungs=None, mutation_factor: float = 0.5,
                 crossover_prob: float = 0.5, strategy: str = "rand1_bin", min_clip: int | None = None,
                 max_clip: int | None = None, boundary_fix_type: str = "random", **options):
        super().__init__(space, fidelities, rng, **options)
        try:
            self.library("dehb", EXTRA)
        except MissingLibrary as exc:
            raise MissingLibrary(f"{exc} && {INSTALL}") from None
        self.eta = int(eta)  # eta and the numbers below: in option_ranges, checked before the optimizer is built
        self.ladder = chosen_ladder(self.name, self.fidelities, self.eta, rungs)
        if len(self.ladder) < 2:
            raise UserError(f"{self.name} needs a fidelity below the target on its rungs; got {self.ladder}")
        self.de_options = dict(mutation_factor=float(mutation_factor), crossover_prob=float(crossover_prob),
                               strategy=self.choice("strategy", strategy),
                               boundary_fix_type=self.choice("boundary_fix_type", boundary_fix_type))
        min_clip = None if min_clip is None else int(min_clip)
        max_clip = None if max_clip is None else int(max_clip)
        if min_clip is not None and max_clip is not None and min_clip > max_clip:
            raise UserError(f"{self.name}: min_clip ({min_clip}) must not exceed max_clip ({max_clip})")
        if max_clip is not None and min_clip is None:
            min_clip = 1  # DEHB 0.1.2 ignores max_clip without min_clip; every rung has at least one anyway
        top = self.eta ** (len(self.ladder) - 1)
        with tempfile.TemporaryDirectory() as folder, quiet():
            self.dehb = dehb_class()(cs=configuration_space(), f=None, min_fidelity=1, max_fidelity=top,
                                     eta=self.eta, min_clip=min_clip, max_clip=max_clip,
                                     seed=int(rng.integers(2**31)), n_workers=1, save_freq="end",
                                     output_path=folder, **self.de_options)
        self.rung_of = {float(self.eta**k): name for k, name in enumerate(self.ladder)}
        assert sorted(self.rung_of) == [float(f) for f in self.dehb.fidelities], self.dehb.fidelities
        self._worst = 0.0  # the worst fitness told (at least 0, accuracy 0 %): a failed evaluation's
        self._pending: dict[tuple[int, str], deque] = {}

    def choice(self, option: str, value) -> str:
        if option == "strategy":
            valid = [f"{m}_{c}" for m in MUTATIONS for c in CROSSOVERS]
        else:
            valid = list(BOUNDARY_FIXES)
        if value not in valid:
            raise UserError(f"{self.name}: {option} must be one of {', '.join(valid)}, got {value!r}")
        return str(value)

    def ask(self):
        with quiet():
            job = self.dehb.ask()
        index, fidelity = self.space.from_config(job["config"]), self.rung_of[float(job["fidelity"])]
        self._pending.setdefault((index, fidelity), deque()).append(job)
        return index, fidelity

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        job = self._pending[(trial.index, trial.fidelity)].popleft()
        if math.isnan(score):
            fitness = self._worst
        else:
            fitness = -float(score)
            self._worst = max(self._worst, fitness)
        with quiet():
            self.dehb.tell(job, {"fitness": fitness, "cost": float(cost)})
