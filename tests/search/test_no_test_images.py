"""No search sees the report's test images, at any fidelity of any benchmark (issue 12, item 4)."""
import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.lowfi.catalog import benchmark_names, load_benchmark
from mfkdbench.lowfi.sources import LOG_ONLY
from mfkdbench.nb201.benchmark import (CIFAR10_TRAIN_IMAGES, GAUSSIAN_INPUTS, NO_IMAGES, VALIDATION, Fidelity,
                                       Objective)
from mfkdbench.nb201.tables import TEST_METRICS
from mfkdbench.search.simulator import Budget, search_fidelities, simulate

#: connected cells whose search score equals a test value by coincidence: at most 2.2 % (kd240 nst12) in the data
COINCIDENCE = 0.05


@pytest.fixture(scope="module", params=benchmark_names())
def bench(request, data_dir):
    return load_benchmark(request.param, str(data_dir))


def _matches_test_values(bench, scores: np.ndarray) -> float:
    """Fraction of the benchmark's connected cells whose score equals one of their test-image values."""
    cells = bench.space.candidates[bench.space.connected[bench.space.candidates]]
    s = scores[cells]
    hits = np.zeros(len(cells), dtype=bool)
    for metric in TEST_METRICS:
        if bench.tables.has(bench.dataset, metric):
            test = bench.tables.get(bench.dataset, metric)[cells].reshape(len(cells), -1)
            hits |= (np.isfinite(s)[:, None] & (np.abs(s[:, None] - test) < 1e-9)).any(axis=1)
    return hits.mean()


#: what a fidelity a search may see was measured on: validation data, or (training-free) no labelled image at all
ALLOWED = {False: {VALIDATION}, True: {NO_IMAGES, GAUSSIAN_INPUTS, CIFAR10_TRAIN_IMAGES}}


def test_no_optimizer_facing_fidelity_touches_a_report_split(bench):
    objective = bench.objective()
    searchable = [n for n, f in bench.fidelities.items() if f.searchable]
    assert set(objective.fidelities) == set(searchable) and "200" in searchable
    for target in [n for n in searchable if not bench.fidelity(n).training_free]:
        for training_free in (False, True):
            offered = search_fidelities(bench, target, training_free)
            assert all(f.measured_on in ALLOWED[f.training_free] for f in offered.values())
            assert set(offered) <= set(objective.fidelities)
    for name, fid in objective.fidelities.items():
        assert fid.measured_on in ALLOWED[fid.training_free], name
        scores = np.array([objective.evaluate(int(i), name).score for i in range(len(bench.tables.index_codes))])
        assert _matches_test_values(bench, scores) < COINCIDENCE, name


def test_the_comparison_detects_a_leak(bench):
    """The value check would catch a test column offered as a search score."""
    leaked = bench.tables.get(bench.dataset, "test_acc_12")
    assert _matches_test_values(bench, leaked) > 0.9


def test_cifar10_curve_is_analysis_only(data_dir):
    c10 = load_benchmark("cifar10", str(data_dir))
    assert c10.fidelity("ce12@3").measured_on == "test"
    assert c10.score(9930, "ce12@12") == pytest.approx(c10.tables.get("cifar10", "test_acc_12")[9930])
    assert list(search_fidelities(c10, "200")) == ["ce12", "200"]
    with pytest.raises(UserError, match="measured on test images"):
        simulate(c10, "random", 0, Budget(evaluations=2), target_fidelity="ce12@12")
    with pytest.raises(ValueError, match="only validation"):
        Objective({"x": np.zeros(3)}, {"x": np.zeros(3)}, None, {"x": Fidelity("x", 1, 0, "", "test")})


def test_log_only_kd_runs_score_nan_for_searches(data_dir):
    kd = load_benchmark("cifar100-kd240", str(data_dir))
    objective = kd.objective()
    lost = [objective.evaluate(int(i), "nst12") for i in LOG_ONLY]
    assert all(np.isnan(e.score) and 0 < e.cost < kd.cost(int(i), "200") for e, i in zip(lost, LOG_ONLY))
    kept = np.setdiff1d(np.arange(240), LOG_ONLY)
    assert np.isfinite([objective.evaluate(int(i), "nst12").score for i in kept]).all()
    assert np.isfinite(kd.tables.get("cifar100", "nst12_test")[LOG_ONLY]).all()  # kept for analysis
