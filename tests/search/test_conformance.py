"""Conformance: every registered optimizer, with 1 and with 4 workers.

* the same seed gives the same trajectory, bit for bit;
* the budget rule holds (seconds with overshoot or cut, number of evaluations);
* the report metric cannot influence a search: scrambling every test column
  of the tables leaves the trajectory unchanged;
* a search space smaller than the budget does not crash it.

Each optimizer runs on CIFAR-10 with the 200-epoch target (fidelities 200,
ce12 and the ce12@E curve), or, if it needs a fidelity CIFAR-10 lacks (the KD
table), on ``cifar100-kd240``. Model-based optimizers get small evaluation
budgets to keep the suite fast.
"""
import numpy as np
import pytest

from mfkdbench import load_benchmark
from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import make_optimizer, optimizer_class, optimizer_names
from mfkdbench.search.simulator import Budget, search_fidelities, simulate

#: optimizers whose every ask fits a model; they get fewer evaluations
MODEL_BASED = {"bananas", "gp-hf", "mfkd", "mf-ce", "bohb"}
CASES = [(name, workers) for name in optimizer_names() for workers in (1, 4)]


def n_evals(name: str) -> int:
    return 8 if name in MODEL_BASED else 40


@pytest.fixture(scope="module")
def benchmarks(data_dir):
    return [load_benchmark(name, str(data_dir)) for name in ("cifar10", "cifar100-kd240")]


@pytest.fixture
def bench(benchmarks, name):
    """The first benchmark that offers what ``name`` needs."""
    for candidate in benchmarks:
        try:
            make_optimizer(name, candidate.space, search_fidelities(candidate, "200", optimizer_class(name).training_free),
                           np.random.default_rng(0))
        except UserError:
            continue
        return candidate
    raise AssertionError(f"{name} runs on none of {[b.name for b in benchmarks]}")


def budget_seconds(bench, name: str, workers: int) -> float:
    """Worth ``n_evals`` target-fidelity (200-epoch) evaluations over all workers together."""
    return n_evals(name) / workers * float(np.median(bench.tables.get(bench.dataset, "time_200")))


@pytest.mark.parametrize("name,workers", CASES)
def test_same_seed_same_trajectory(bench, name, workers):
    budget = Budget(evaluations=n_evals(name))
    a = simulate(bench, name, 7, budget, n_workers=workers)
    b = simulate(bench, name, 7, budget, n_workers=workers)
    assert len(a.evaluations) == n_evals(name)
    assert a.evaluations.equals(b.evaluations)
    assert a.incumbents.equals(b.incumbents)
    assert (a.final_index, a.final_report) == (b.final_index, b.final_report)


@pytest.mark.parametrize("name,workers", CASES)
def test_budget_rule(bench, name, workers):
    seconds = budget_seconds(bench, name, workers)
    cap = 3 * n_evals(name)  # bounds the cheap low-fidelity evaluations of model-based optimizers
    over = simulate(bench, name, 1, Budget(seconds, cap, overshoot=True), n_workers=workers).evaluations
    cut = simulate(bench, name, 1, Budget(seconds, cap, overshoot=False), n_workers=workers).evaluations
    assert 0 < len(over) <= cap and len(cut) > 0
    assert (over["start"] < seconds).all()
    assert (cut["end"] <= seconds).all()
    # cutting drops exactly the evaluations that end after the budget
    assert cut.equals(over[over["end"] <= seconds].reset_index(drop=True))
    assert over["worker"].between(0, workers - 1).all()


@pytest.mark.parametrize("name,workers", CASES)
def test_report_metric_does_not_reach_the_search(bench, name, workers, monkeypatch):
    budget = Budget(evaluations=n_evals(name))
    real = simulate(bench, name, 3, budget, n_workers=workers)
    rng = np.random.default_rng(0)
    for key, column in list(bench.tables.arrays.items()):
        if "test" in key:  # every test-split column, permuted across architectures
            monkeypatch.setitem(bench.tables.arrays, key, column[rng.permutation(len(column))])
    blind = simulate(bench, name, 3, budget, n_workers=workers)
    assert real.evaluations.equals(blind.evaluations)
    assert real.final_index == blind.final_index
    if blind.final_index >= 0:  # the report is looked up after the search, in the permuted column
        assert blind.final_report == bench.report(blind.final_index)
        assert bench.report_metric == "test_acc_200"


@pytest.mark.parametrize("name,workers", CASES)
def test_tiny_space_does_not_crash(bench, name, workers):
    tiny = bench.restricted("tiny", [10, 11, 12, 13, 14])
    cap = 12 if name in MODEL_BASED else 30  # more than the 5 cells (x fidelities) on offer
    run = simulate(tiny, name, 0, Budget(evaluations=cap), n_workers=workers)
    assert 1 <= len(run.evaluations) <= cap
    assert set(run.evaluations["index"]) <= {10, 11, 12, 13, 14}
    assert run.final_index in {10, 11, 12, 13, 14}


@pytest.mark.parametrize("name", optimizer_names())
def test_registered_and_documented(name):
    cls = optimizer_class(name)
    assert cls.name == name
    assert cls.__doc__ and cls.__doc__.strip()
