"""Training-free fidelities (issue 20): what they hold, what they cost, and who is offered them."""
import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.lowfi.catalog import benchmark_names, load_benchmark
from mfkdbench.search.optimizer import optimizer_class, optimizer_names
from mfkdbench.search.simulator import Budget, resolve_search, simulate

FREE = ("params", "flops", "zen", "naswot")


@pytest.fixture(scope="module", params=benchmark_names())
def bench(request, data_dir):
    return load_benchmark(request.param, str(data_dir))


def test_every_benchmark_offers_the_four_with_what_they_saw(bench):
    fids = {n: bench.fidelity(n) for n in FREE}
    assert all(f.training_free and f.epochs == 0 and f.level == 0 for f in fids.values())
    assert {n: f.measured_on for n, f in fids.items()} == {
        "params": "none", "flops": "none", "zen": "gaussian-inputs", "naswot": "cifar10-train-unlabelled"}
    ds, cell = bench.dataset, int(bench.space.candidates[7])
    for name, metric in (("params", "params_mb"), ("flops", "flops_m"), ("zen", "zen"), ("naswot", "naswot")):
        assert bench.score(cell, name) == bench.tables.get(ds, metric)[cell]
    # NASWOT exists on CIFAR-10 images only and is the same column on every dataset
    assert bench.score(cell, "naswot") == bench.tables.get("cifar10", "naswot")[cell]


def test_costs_params_and_flops_free_proxies_a_fraction_of_one_epoch(bench):
    cells = bench.space.candidates
    for name in ("params", "flops"):
        assert all(bench.cost(int(i), name) == 0 for i in cells[:50])
    c10_epoch = bench.tables.get("cifar10", "time_200")[cells] / 200
    epoch = bench.tables.get(bench.dataset, "time_200")[cells] / 200
    naswot = np.array([bench.cost(int(i), "naswot") for i in cells])
    zen = np.array([bench.cost(int(i), "zen") for i in cells])
    # NASWOT: 128 CIFAR-10 images = half a minibatch of 256 out of ceil(25,000 / 256) = 98 per epoch
    assert naswot == pytest.approx(c10_epoch / 98 * 0.5, rel=1e-12)
    minibatches = {"cifar10": 98, "cifar100": 196, "imagenet16-120": 593}[bench.dataset]
    assert zen == pytest.approx(epoch / minibatches * 0.5, rel=1e-12)
    assert (naswot > 0).all() and (naswot < c10_epoch / 50).all() and (zen < epoch / 50).all()


def test_cifar100_cell_9930_by_hand(data_dir):
    c100 = load_benchmark("cifar100", str(data_dir))
    c10_time = c100.tables.get("cifar10", "time_200")[9930]
    assert c100.cost(9930, "naswot") == pytest.approx(c10_time / 200 / 98 / 2)
    assert c100.cost(9930, "naswot") < 0.1 < c100.cost(9930, "ce12") / 1000
    assert c100.score(9930, "params") == pytest.approx(1.294356)


def test_only_optimizers_that_ask_get_them(bench):
    for name in optimizer_names():
        cls = optimizer_class(name)
        spec = name if cls.multi_fidelity else f"{name}@200"
        offered = resolve_search(bench, spec, "200").fidelities
        got = [n for n, f in offered.items() if f.training_free]
        assert sorted(got) == (sorted(FREE) if cls.training_free else []), name
        assert [n for n in offered if n not in FREE] == [n for n in ("ce12", "nst12") if n in bench.fidelities] + [
            "200"], name


def test_no_search_targets_a_training_free_fidelity(data_dir):
    c100 = load_benchmark("cifar100", str(data_dir))
    for spec, target in (("random@params", "200"), ("random", "naswot"), ("hyperband", "zen")):
        with pytest.raises(UserError, match="training-free"):
            simulate(c100, spec, 0, Budget(evaluations=3), target_fidelity=target)
