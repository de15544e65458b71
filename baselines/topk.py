"""Top-K after a cheap fidelity: the "1-Epoch" baseline of Egele, Guyon, Sun & Balaprakash, "Is One Epoch All You
Need For Multi-Fidelity Hyperparameter Optimization?" (ESANN 2023, arXiv 2307.15422).

Each round samples ``n_samples`` cells never used before, evaluates them at the
cheapest training fidelity on offer (``low``; NB201's 12-epoch schedule
``ce12`` here, where the paper trains one epoch, which the data does not hold
for a search), and trains the best ``k`` at the target; rounds repeat until the
budget ends or the space is used up. It recommends the best cell at the target.
The paper's discarding after a fixed number of epochs continues the same run;
here the 200-epoch run is trained from scratch and charged in full. Defaults:
64 cells and the top 3 per round (on CIFAR-100 a round costs about the NATS-Bench
budget, 40,000 s). With several workers the cells of a stage run in parallel and
the next stage starts once all their results are in.
"""
from __future__ import annotations

import math

from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import Optimizer, Range, register
from mfkdbench.search.sampling import UnseenSampler


@register("topk")
class TopK(Optimizer):
    """Rounds of ``n_samples`` cells at the cheap fidelity, the best ``k`` of each at the target."""

    multi_fidelity = True
    option_probes = {"n_samples": 16, "k": 6, "low": "nst12"}  # low: on the 240 cells with NST runs
    option_ranges = {"n_samples": Range(1, integer=True), "k": Range(1, integer=True)}
    #: k acts once the first round's 64 cheap results are in
    probe_evaluations = 100

    def __init__(self, space, fidelities, rng, n_samples: int = 64, k: int = 3, low: str | None = None, **options):
        super().__init__(space, fidelities, rng, **options)
        if k > n_samples:  # each an integer >= 1: option_ranges
            raise UserError(f"{self.name}: need integers 1 <= k <= n_samples, got k={k}, n_samples={n_samples}")
        lower = [f.name for f in sorted(self.fidelities.values(), key=lambda f: (f.epochs, f.name))
                 if f.name != self.high and not f.training_free]
        if low is None and not lower:
            raise UserError(f"{self.name} needs a training fidelity below the target {self.high!r}; none is on offer")
        if low is not None and low not in lower:
            raise UserError(f"{self.name}: low must be a training fidelity below the target ({', '.join(lower)}), "
                            f"got {low!r}")
        self.low = low or lower[0]
        self.n_samples, self.k = int(n_samples), int(k)
        self.sampler = UnseenSampler(space)
        self.queue: list[tuple[int, str]] = []
        self.outstanding = 0
        self.results: list[tuple[float, int, int]] = []  # (-score, order, index) of the round's cheap stage

    def ask(self):
        if not self.queue and self.outstanding == 0:
            self.start_round()
        if not self.queue:
            return None  # waiting for the stage's results, or the space is used up
        self.outstanding += 1
        return self.queue.pop(0)

    def start_round(self) -> None:
        cells = [self.sampler.draw(self.rng) for _ in range(self.n_samples)]
        self.queue = [(c, self.low) for c in cells if c is not None]
        self.results = []

    def tell(self, trial, score, cost):
        self.outstanding -= 1
        if trial.fidelity != self.low:
            return
        self.results.append((math.inf if math.isnan(score) else -score, len(self.results), trial.index))
        if self.outstanding == 0 and not self.queue:
            self.queue = [(index, self.high) for _, _, index in sorted(self.results)[:self.k]]
