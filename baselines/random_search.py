"""Random search (Li & Talwalkar 2019; NB201's ``RANDOM.py`` / NATS-Bench's ``random_wo_share.py``)."""
from __future__ import annotations

from mfkdbench.search.optimizer import Optimizer, register


@register("random")
class RandomSearch(Optimizer):
    """Uniformly random cells at the target fidelity, drawn with replacement as in NB201's scripts.

    Drawing with replacement never runs out, so a tiny search space is never exhausted.
    """

    def ask(self):
        cells = self.space.candidates  # as space.sample(rng), without the call: random search is all overhead
        return int(cells[self.rng.integers(len(cells))]), self.high

    def tell(self, trial, score, cost):
        pass
