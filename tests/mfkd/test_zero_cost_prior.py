"""The zero-cost prior mean of the co-kriging (``f_low = w z + g``): its weight is fitted, not fixed, its
likelihood gradient is exact, it predicts held-out cells better, and ``mfkd`` / ``mf-ce`` stay as they were."""
import numpy as np
import pytest
from scipy.optimize import approx_fprime, minimize_scalar
from scipy.stats import spearmanr

from mfkdbench.mfkd.acquisition import CandidatePool
from mfkdbench.mfkd.cokriging import CoKriging
from mfkdbench.mfkd.searches import normal_scores

THETA = np.array([0.7, np.log(1.3), np.log(1.6), np.log(0.05), np.log(0.2), np.log(0.9), np.log(0.02)])


@pytest.fixture(scope="module")
def cifar100(space):
    from mfkdbench.nb201.tables import load_tables

    t = load_tables()
    return (t.get("cifar100", "val_acc_12"), t.get("cifar100", "val_acc_200"),
            normal_scores(t.get("cifar100", "params_mb")))


def _design(space, data, seed, n_low=50, n_high=20, n_test=300):
    low_f, high_f, z = data
    idx = np.random.default_rng(seed).choice(15625, n_low + n_test, replace=False)
    low, high, test = idx[:n_low], idx[:n_high], idx[n_low:]
    return (dict(x_low=space.onehot(low), y_low=low_f[low], x_high=space.onehot(high), y_high=high_f[high]),
            dict(prior_low=z[low], prior_high=z[high]), test, (low, high))


def _likelihood_at_weight(model, theta, weight):
    """Log likelihood of the standardized observations with the prior mean ``weight * h`` (dense algebra)."""
    chol = np.tril(model._factor(theta)[0])
    h = model._regressor(theta[0])
    r = model.y - weight * h
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, r))
    return -0.5 * r @ alpha - np.log(np.diag(chol)).sum() - 0.5 * len(r) * np.log(2 * np.pi)


def test_weight_is_the_likelihood_maximizer(space, cifar100):
    design, prior, _, _ = _design(space, cifar100, 0)
    model = CoKriging(theta=THETA).fit(**design, optimize=False, **prior)
    best = minimize_scalar(lambda w: -_likelihood_at_weight(model, THETA, w), bounds=(-5, 5), method="bounded",
                           options={"xatol": 1e-9})
    assert model.weight == pytest.approx(best.x, abs=1e-5)
    assert 0.2 < model.weight < 1.5  # params predicts the 12-epoch accuracy: a clearly positive weight
    assert model.log_marginal_likelihood() == pytest.approx(-best.fun, abs=1e-8)
    for fixed in (0.0, 1.0):
        assert model.log_marginal_likelihood() > _likelihood_at_weight(model, THETA, fixed) + 0.5


def test_weight_recovers_a_planted_one(space, cifar100):
    """Low-level targets built as ``w_true * z + the real 12-epoch accuracy's GP-smooth part`` (scaled)."""
    design, prior, _, _ = _design(space, cifar100, 1, n_low=120)
    base = (design["y_low"] - design["y_low"].mean()) / design["y_low"].std()
    for w_true in (-1.5, 0.0, 3.0):
        y = base + w_true * prior["prior_low"]
        model = CoKriging(rng=np.random.default_rng(0)).fit(**(design | {"y_low": y}), **prior)
        estimate = model.weight * model.std_low  # in the units of y
        without = CoKriging(rng=np.random.default_rng(0)).fit(**(design | {"y_low": base}), **prior)
        assert estimate - without.weight * without.std_low == pytest.approx(w_true, abs=0.05)


def test_gradient_with_the_prior_matches_finite_differences(space, cifar100):
    design, prior, _, _ = _design(space, cifar100, 2)
    model = CoKriging(theta=THETA).fit(**design, optimize=False, **prior)
    for theta in (THETA, THETA + np.array([-1.1, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4])):
        _, grad = model.log_marginal_likelihood(theta, gradient=True)
        fd = approx_fprime(theta, model.log_marginal_likelihood, 1e-6)
        np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-4)


def test_prior_predicts_held_out_cells_better(space, cifar100):
    """50 low, 20 high real CIFAR-100 cells, 300 held out: the fitted prior raises the likelihood and the
    held-out rank correlation of the high-level mean (6 designs: 0.625 -> 0.764, bench/zc_prior_heldout.py)."""
    high_f = cifar100[1]
    gains = []
    for seed in range(3):
        design, prior, test, _ = _design(space, cifar100, seed)
        plain = CoKriging(rng=np.random.default_rng(0)).fit(**design)
        zc = CoKriging(rng=np.random.default_rng(0)).fit(**design, **prior)
        assert zc.log_marginal_likelihood() > plain.log_marginal_likelihood() + 1.0
        x = space.onehot(test)
        gains.append(spearmanr(zc.predict(x, 1, cifar100[2][test])[0], high_f[test])[0]
                     - spearmanr(plain.predict(x, 1)[0], high_f[test])[0])
    assert np.mean(gains) > 0.05 and min(gains) > 0


def test_candidate_means_include_the_prior(space, cifar100):
    design, prior, test, observed = _design(space, cifar100, 4)
    model = CoKriging(theta=THETA).fit(**design, optimize=False, **prior)
    z = cifar100[2]
    for indices in (np.arange(15625), test):  # the one-hot grid and a pool off it
        pool = CandidatePool(indices, space.onehot(indices), prior=z[indices])
        for level in (0, 1):
            mean = pool.means(model, level, observed)
            reference, _ = model.predict(space.onehot(indices), level, z[indices])
            mu, sd = (model.mean_low, model.std_low) if level == 0 else (model.mean_high, model.std_high)
            np.testing.assert_allclose(mean, (reference - mu) / sd, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(pool.posterior(model, level)[0], (reference - mu) / sd, atol=1e-8)


#: the first 40 proposals of seed 0 on cifar100-kd240, recorded on the code before the zero-cost prior
RECORDED = {
    "mfkd": [152, 122, 202, 232, 9, 3, 216, 17, 144, 41, 191, 153, 119, 80, 232, 180, 111, 128, 68, 207, 90, 204,
             142, 49, 29, 147, 203, 67, 165, 158, 99, 85, 26, 235, 235, 211, 88, 138, 171, 109],
    "mf-ce": [152, 122, 202, 232, 9, 3, 216, 17, 144, 41, 191, 153, 119, 142, 232, 49, 111, 230, 204, 80, 6, 128, 0,
              138, 235, 93, 203, 165, 135, 148, 116, 197, 148, 218, 30, 226, 180, 65, 43, 136],
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_paper_searches_keep_their_trajectories(name):
    from mfkdbench import load_benchmark
    from mfkdbench.search.simulator import Budget, simulate

    run = simulate(load_benchmark("cifar100-kd240"), name, 0, Budget(evaluations=40))
    assert list(run.evaluations["index"]) == RECORDED[name]


@pytest.fixture(scope="module")
def kd240():
    from mfkdbench import load_benchmark

    return load_benchmark("cifar100-kd240")


@pytest.mark.parametrize("proxy", ["params", "naswot"])
def test_zero_cost_level_is_charged_its_own_cost(kd240, proxy):
    """Every candidate's zero-cost score first, each at the proxy's price (params: free; naswot: one minibatch
    of inference), far below a 12-epoch training run; the training starts when they are done."""
    from mfkdbench.search.simulator import Budget, simulate

    run = simulate(kd240, "mfkd-zc", 0, Budget(evaluations=260), optimizer_options={"zero_cost": proxy})
    ev = run.evaluations
    free = ev[ev.fidelity == proxy]
    assert sorted(free["index"]) == list(range(240)) and list(ev.fidelity[:240]) == [proxy] * 240
    proxy_costs = np.array([kd240.cost(int(i), proxy) for i in free["index"]])
    np.testing.assert_allclose(free["cost"], proxy_costs)
    training = np.array([kd240.cost(int(i), "ce12") for i in free["index"]])
    assert np.all(proxy_costs < 0.01 * training) and proxy_costs.sum() < training.min()  # all 240 < one ce12 run
    if proxy == "params":
        assert proxy_costs.sum() == 0
    assert ev.start.iloc[240] == pytest.approx(proxy_costs.sum())
    assert set(ev.fidelity[240:]) == {"200", "nst12"}
    assert set(run.incumbents.fidelity) == {"200"}  # a zero-cost score never makes the incumbent


def test_zero_cost_searches_are_deterministic_and_differ_from_the_paper_method(kd240):
    from mfkdbench.search.simulator import Budget, simulate

    budget = Budget(seconds=60_000)
    for workers in (1, 3):
        a, b = (simulate(kd240, "mfkd-zc", 3, budget, n_workers=workers).evaluations for _ in range(2))
        assert a.equals(b)
    zc = simulate(kd240, "mfkd-zc", 3, budget).evaluations
    paper = simulate(kd240, "mfkd", 3, budget).evaluations
    trained = zc[zc.fidelity != "params"].reset_index(drop=True)
    assert list(trained["index"][:13]) == list(paper["index"][:13])  # the same seeded initial design
    assert list(trained["index"]) != list(paper["index"])  # then the prior changes the proposals


def test_zero_cost_option_is_checked(kd240):
    from mfkdbench.errors import UserError
    from mfkdbench.search.simulator import Budget, simulate

    with pytest.raises(UserError, match="training-free fidelity 'synflow'"):
        simulate(kd240, "mf-ce-zc", 0, Budget(evaluations=5), optimizer_options={"zero_cost": "synflow"})
