"""Regularized evolution's rules: the oldest member dies, the parent is the best of a tournament."""
import math

import numpy as np

from mfkdbench.baselines.rea import RegularizedEvolution
from mfkdbench.nb201.benchmark import Fidelity
from mfkdbench.search.optimizer import Trial

HIGH = {"200": Fidelity("200", 200, 1, "target")}


def test_the_oldest_member_dies_whatever_its_score(space):
    rea = RegularizedEvolution(space, HIGH, np.random.default_rng(0), population_size=3, sample_size=2)
    for trial_id, (index, score) in enumerate([(10, 90.0), (11, 10.0), (12, 50.0), (13, 20.0), (14, math.nan)]):
        rea.tell(Trial(trial_id, index, "200"), score, 1.0)
    assert list(rea.population) == [(12, 50.0), (13, 20.0), (14, -math.inf)]  # 10 (the best) and 11 aged out


def test_the_parent_is_the_best_of_the_tournament(space, monkeypatch):
    rea = RegularizedEvolution(space, HIGH, np.random.default_rng(0), population_size=4, sample_size=3)
    for trial_id, (index, score) in enumerate([(100, 1.0), (200, 4.0), (300, 3.0), (400, 2.0)]):
        rea.tell(Trial(trial_id, index, "200"), score, 1.0)
    parents = []
    monkeypatch.setattr(rea, "mutate", lambda index: parents.append(index) or index)
    class Picks:  # the tournament draws members 100, 300 and 400
        def integers(self, high, size):
            assert (high, size) == (4, 3)
            return np.array([0, 2, 3])

    rea.rng = Picks()
    assert rea.ask() == (300, "200") and parents == [300]
