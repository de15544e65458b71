"""Progress of a comparison weighted by expected work, not by the count of cells."""
import pytest

from mfkdbench.experiments.grid import Cell, WorkEstimate, seed_major


def test_expected_work_weighs_each_cell_by_its_optimizers_time():
    cells = [Cell(name, s) for name in ("random", "gp") for s in range(4)]
    estimate = WorkEstimate(seed_major(cells), {})
    assert estimate.fraction() == 0.0
    for s in range(4):
        estimate.done("random", 1.0)
    estimate.done("gp", 10.0)
    # 5 of 8 cells, but 14 s done of 14 + 3 * 10 s expected
    assert estimate.fraction() == pytest.approx(14 / 44)
    fresh = WorkEstimate([Cell("gp", 1), Cell("new", 1)], {"gp": [10.0, 30.0]})  # stored cells count as done
    assert fresh.fraction() == pytest.approx(40 / (40 + 20 + 20))  # "new": the mean of all timed cells


def test_seed_major_times_every_optimizer_in_the_first_round():
    cells = [Cell(name, s) for name in ("random", "rea", "gp") for s in range(3)]
    order = seed_major(cells)
    assert [c.optimizer for c in order[:3]] == ["random", "rea", "gp"] and {c.seed for c in order[:3]} == {0}
    assert sorted(order, key=lambda c: c.key) == sorted(cells, key=lambda c: c.key)
