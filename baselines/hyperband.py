"""Hyperband (Li et al., JMLR 2018) on real NB201 fidelities, and the bracket machinery BOHB shares.

Rungs
    A rung is a fidelity. The ladder is derived from the fidelities on offer:
    the top rung is the target fidelity, and each lower rung is the
    plain-cross-entropy fidelity (``ce12``, or a ``ce12@E`` curve where one is
    on offer) with the most epochs that is at most ``1/eta`` of the rung
    above (first offered on ties). With target ``200`` this gives ``ce12,
    200`` on every dataset: CIFAR-10's ``ce12@E`` curve is measured on test
    images and offered to no search. Knowledge-distillation fidelities are left out so that this
    baseline stays the same when MF-KD adds them; ``rungs=[...]`` (fidelity
    names, lowest first) sets the ladder explicitly.

Brackets
    Li et al.'s schedule on rung *levels*: with ``R`` rungs (``s_max = R - 1``)
    bracket ``s`` starts ``n = ceil(R / (s + 1) * eta**s)`` configurations on
    rung ``s_max - s``, and each rung keeps the best ``floor(n_i / eta)`` of
    the one below (failed, NaN-scored trials are never promoted). Brackets run
    ``s = s_max, ..., 0`` and then start over. Every evaluation is charged its
    full cost: the tables hold no checkpoints to resume from.

    Configurations are NB201 cells never used before in the run, so a
    restricted space runs out: then brackets shrink and ``ask`` returns
    ``None``.

Parallel workers
    As in hpbandster (the BOHB paper, section 4.2): each bracket is
    synchronous successive halving (a rung is promoted once all its results
    are in); when no running bracket has a job for an idle worker, the next
    bracket of the schedule starts. With one worker this is sequential
    Hyperband.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping

from mfkdbench.nb201.benchmark import Fidelity
from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import ETA, Optimizer, Trial, register
from mfkdbench.search.sampling import UnseenSampler

#: prefix of the plain cross-entropy fidelities Hyperband's lower rungs use by default
CE_PREFIX = "ce"


def rung_ladder(fidelities: Mapping[str, Fidelity], eta: int) -> list[str]:
    """Fidelity names of the rungs, lowest first (see the module docstring)."""
    top = max(fidelities.values(), key=lambda f: (f.level, f.epochs))
    lower = [f for f in fidelities.values() if f.name.startswith(CE_PREFIX) and f.epochs < top.epochs]
    ladder, epochs = [top.name], top.epochs
    while True:
        fits = [f for f in lower if f.epochs * eta <= epochs]
        if not fits:
            return ladder[::-1]
        most = max(f.epochs for f in fits)
        rung = next(f for f in fits if f.epochs == most)
        ladder.append(rung.name)
        epochs = rung.epochs


def chosen_ladder(optimizer: str, fidelities: Mapping[str, Fidelity], eta: int, rungs=None) -> list[str]:
    """The rung fidelities, lowest first: ``rungs`` (names, or one comma-separated string) if given, else
    :func:`rung_ladder`."""
    if rungs is None:
        return rung_ladder(fidelities, eta)
    names = [r.strip() for r in rungs.split(",")] if isinstance(rungs, str) else [str(r) for r in rungs]
    unknown = [r for r in names if r not in fidelities]
    if not names or unknown:
        raise UserError(f"{optimizer}: rungs must name fidelities on offer ({', '.join(fidelities)}), got {rungs!r}")
    order = [(fidelities[r].level, fidelities[r].epochs) for r in names]
    if len(set(names)) < len(names) or any(a > b for a, b in zip(order, order[1:])):
        raise UserError(f"{optimizer}: rungs must be distinct fidelities, cheapest first, got {','.join(names)}")
    return names


def bracket_starts(n_rungs: int, eta: int) -> list[tuple[int, int]]:
    """``(first rung, number of configurations)`` of each bracket, ``s = s_max`` first."""
    s_max = n_rungs - 1
    return [(s_max - s, math.ceil(n_rungs / (s + 1) * eta**s)) for s in range(s_max, -1, -1)]


def bracket_sizes(n_rungs: int, eta: int) -> list[list[int]]:
    """Configurations evaluated on each rung of each bracket (Li et al.'s ``n_i``)."""
    sizes = []
    for first, n in bracket_starts(n_rungs, eta):
        rungs = [n]
        for _ in range(first + 1, n_rungs):
            rungs.append(promoted(rungs[-1], eta))
        sizes.append(rungs)
    return sizes


def promoted(n: int, eta: int) -> int:
    """How many of ``n`` configurations go up one rung: ``floor(n / eta)``, at least one."""
    return max(1, n // eta) if n else 0


class Bracket:
    """One synchronous successive-halving run from rung ``first`` up to the top rung."""

    def __init__(self, first: int, n_configs: int, n_rungs: int, eta: int):
        self.level, self.top, self.eta = first, n_rungs - 1, eta
        self.to_sample = n_configs  # new configurations still to draw for the first rung
        self.queue: deque[int] = deque()  # promoted configurations not issued yet
        self.issued: list[int] = []  # configurations issued on the current rung
        self.scores: dict[int, float] = {}  # their results so far
        self.done = False

    def next_job(self, sample: Callable[[], int | None]) -> tuple[int, int] | None:
        """``(config, rung level)`` to run next, or ``None`` while it waits for results or is done."""
        while not self.done:
            if self.queue:
                config = self.queue.popleft()
            elif self.to_sample:
                config = sample()
                if config is None:  # the space is used up: a smaller bracket
                    self.to_sample = 0
                    continue
                self.to_sample -= 1
            elif len(self.scores) < len(self.issued):
                return None
            else:
                self.promote()
                continue
            self.issued.append(config)
            return config, self.level
        return None

    def record(self, config: int, score: float) -> None:
        self.scores[config] = score

    def promote(self) -> None:
        """Move the best ``floor(n / eta)`` finished configurations up one rung (or finish)."""
        finite = [c for c in self.issued if not math.isnan(self.scores[c])]
        best = sorted(finite, key=lambda c: -self.scores[c])[:promoted(len(self.issued), self.eta)]
        if self.level == self.top or not best:
            self.done = True
            return
        self.level += 1
        self.queue, self.issued, self.scores = deque(best), [], {}


@register("hyperband")
class Hyperband(Optimizer):
    """Hyperband (Li et al., JMLR 2018) with random configurations.

    Subclasses change :meth:`sample_config`."""

    multi_fidelity = True
    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"eta": 2, "rungs": ["200"]}
    option_ranges = {"eta": ETA}

    def __init__(self, space, fidelities, rng, eta: int = 3, rungs=None, **options):
        super().__init__(space, fidelities, rng, **options)
        self.eta = int(eta)  # in option_ranges, checked before the optimizer is built
        self.ladder = self.make_ladder(rungs)
        self.starts = bracket_starts(len(self.ladder), self.eta)
        self.unseen = UnseenSampler(space)
        self._active: list[Bracket] = []
        self._n_brackets = 0
        self._pending: dict[tuple[int, str], deque[tuple[Bracket, int]]] = {}

    def make_ladder(self, rungs) -> list[str]:
        """The rung fidelities, lowest first: ``rungs`` if given, else :func:`rung_ladder`."""
        return chosen_ladder(self.name, self.fidelities, self.eta, rungs)

    def sample_config(self) -> int | None:
        """A new configuration for a bracket's first rung (``None`` if the space is used up)."""
        return self.unseen.draw(self.rng)

    def observe(self, level: int, index: int, score: float) -> None:
        """A finished trial on rung ``level``; Hyperband keeps nothing beyond its brackets."""

    def ask(self) -> tuple[int, str] | None:
        job = None
        for bracket in self._active:
            job = bracket.next_job(self.sample_config)
            if job is not None:
                break
        self._active = [b for b in self._active if not b.done]
        if job is None:  # every running bracket waits for results: start the next one
            first, n_configs = self.starts[self._n_brackets % len(self.starts)]
            bracket = Bracket(first, n_configs, len(self.ladder), self.eta)
            job = bracket.next_job(self.sample_config)
            if job is None:
                return None
            self._n_brackets += 1
            self._active.append(bracket)
        config, level = job
        fidelity = self.ladder[level]
        self._pending.setdefault((config, fidelity), deque()).append((bracket, level))
        return config, fidelity

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        bracket, level = self._pending[(trial.index, trial.fidelity)].popleft()
        bracket.record(trial.index, score)
        self.observe(level, trial.index, score)
