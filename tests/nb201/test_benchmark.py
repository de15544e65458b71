import numpy as np
import pytest

from mfkdbench import load_benchmark
from mfkdbench.nb201.benchmark import HIGH, Objective
from mfkdbench.errors import UserError

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.mark.parametrize("name,optimum,best", [
    ("cifar10", 94.3733, 6111), ("cifar100", 73.5133, 9930), ("ImageNet16-120", 47.3111, 857)])
def test_optima_match_published(data_dir, name, optimum, best):
    bench = load_benchmark(name, str(data_dir))
    assert bench.report_metric == "test_acc_200"
    assert bench.optimum == pytest.approx(optimum, abs=1e-4)
    assert bench.best_index == best


def test_best_cell_through_public_api(data_dir):
    c10, c100, in16 = (load_benchmark(d, str(data_dir)) for d in ("cifar10", "cifar100", "imagenet16-120"))
    idx = c10.space.index(BEST)
    assert idx == 9930
    assert c10.report(idx) == pytest.approx(94.3633, abs=1e-4)
    assert c100.report(idx) == pytest.approx(73.5133, abs=1e-4)
    assert in16.report(idx) == pytest.approx(46.3444, abs=1e-4)
    # search side: cifar10 searches on cifar10-valid x-valid, never on the test split
    assert c10.score(idx) == pytest.approx(91.5533, abs=1e-4)
    assert c10.score(idx, "ce12") == pytest.approx(84.746, abs=1e-3)
    assert c10.cost(idx) == pytest.approx(2934.5035, abs=1e-3)
    assert c10.cost(idx, "ce12") == pytest.approx(2934.5035 * 12 / 200, abs=1e-3)
    assert c10.score(idx, "ce12@12") == pytest.approx(88.66, abs=1e-3)


def test_objective_cannot_return_test_accuracy(data_dir):
    bench = load_benchmark("cifar100", str(data_dir))
    test = bench.tables.get("cifar100", "test_acc_200")
    test12 = bench.tables.get("cifar100", "test_acc_12")
    obj = bench.objective()
    assert isinstance(obj, Objective)
    # nothing the objective holds is a report column, nor shares memory with the tables
    held = list(obj._scores.values()) + list(obj._costs.values())
    for arr in held:
        assert not np.array_equal(arr, test) and not np.array_equal(arr, test12)
        assert not np.shares_memory(arr, test)
    assert not any(hasattr(obj, name) for name in ("tables", "report", "optimum", "_benchmark"))
    # every value it can return is a validation score or a cost
    for fid in obj.fidelities:
        ev = obj.evaluate(9930, fid)
        assert ev.score == bench.score(9930, fid) and ev.cost == bench.cost(9930, fid)
    assert obj.evaluate(9930).score != pytest.approx(bench.report(9930))


def test_seed_sampling_draws_real_seeds(data_dir, tables):
    bench = load_benchmark("cifar10", str(data_dir), seed_mode="sample")
    obj = bench.objective()
    seeds = tables.get("cifar10", "val_acc_200_seeds")[9930]
    draws = [obj.evaluate(9930, HIGH, np.random.default_rng(s)).score for s in range(60)]
    assert set(np.round(draws, 6)) == set(np.round(seeds[~np.isnan(seeds)], 6))
    again = [obj.evaluate(9930, HIGH, np.random.default_rng(s)).score for s in range(60)]
    assert draws == again
    assert np.mean(seeds[~np.isnan(seeds)]) == pytest.approx(bench.score(9930))


def test_restricted_benchmark(data_dir):
    bench = load_benchmark("cifar100", str(data_dir)).restricted("c100-first240", np.arange(240))
    assert len(bench.space) == 240
    full = bench.tables.get("cifar100", "test_acc_200")[:240]
    assert bench.optimum == pytest.approx(full.max())
    assert bench.best_index == int(np.argmax(full))


def test_bad_names(data_dir):
    with pytest.raises(UserError, match="unknown dataset"):
        load_benchmark("mnist", str(data_dir))
    with pytest.raises(UserError, match="fidelity"):
        load_benchmark("cifar100", str(data_dir)).score(0, "ce12@3")
    with pytest.raises(UserError, match="seed mode"):
        load_benchmark("cifar10", str(data_dir), seed_mode="median")
