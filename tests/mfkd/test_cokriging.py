"""Co-kriging against a maintained implementation: emukit's linear multi-fidelity model on GPy.

Tolerance: with the same fixed hyperparameters both compute the same Gaussian
posterior, so means, variances and the log likelihood agree to 1e-6 (relative).
Fitted (both optimizing the same likelihood over the same parameters): our fit
is at least as likely, and predicts held-out cells as well, within a margin.
"""
import numpy as np
import pytest

from mfkdbench.mfkd.cokriging import CoKriging, sqdist

GPy = pytest.importorskip("GPy")
emukit_kernels = pytest.importorskip("emukit.multi_fidelity.kernels")
emukit_models = pytest.importorskip("emukit.multi_fidelity.models")

THETA = np.array([0.7, np.log(1.3), np.log(1.6), np.log(0.05), np.log(0.2), np.log(0.9), np.log(0.02)])
RTOL = 1e-6


@pytest.fixture(scope="module")
def data(space):
    """Real NB201 cells (one-hot) with a non-nested design: 40 low, 15 high, 8 of them shared."""
    from mfkdbench.nb201.tables import load_tables

    rng = np.random.default_rng(3)
    idx = rng.choice(15625, 47, replace=False)
    t = load_tables()
    low, high = idx[:40], np.concatenate([idx[:8], idx[40:]])
    return (space.onehot(low), t.get("cifar100", "val_acc_12")[low], space.onehot(high),
            t.get("cifar100", "val_acc_200")[high], space.onehot(rng.choice(15625, 30, replace=False)))


def _emukit(model: CoKriging, theta):
    """emukit's model with our hyperparameters on our standardized data."""
    rho, c_l, ls_l, s_l, c_d, ls_d, s_h = theta[0], *np.exp(theta[1:])
    d = model.x_low.shape[1]
    x = np.vstack([np.c_[model.x_low, np.zeros(model.n_low)], np.c_[model.x_high, np.ones(len(model.x_high))]])
    kern = emukit_kernels.LinearMultiFidelityKernel([GPy.kern.RBF(d, c_l, ls_l), GPy.kern.RBF(d, c_d, ls_d)])
    gp = emukit_models.GPyLinearMultiFidelityModel(x, model.y[:, None], kern, n_fidelities=2)
    gp.mixed_noise.Gaussian_noise.variance = s_l
    gp.mixed_noise.Gaussian_noise_1.variance = s_h
    gp.multifidelity.scale = rho
    return gp


def test_posterior_and_likelihood_match_emukit(data):
    x_l, y_l, x_h, y_h, x_test = data
    model = CoKriging(theta=THETA).fit(x_l, y_l, x_h, y_h, optimize=False)
    gp = _emukit(model, THETA)
    # our jitter (1e-9) is far below the tolerance
    assert model.log_marginal_likelihood() == pytest.approx(gp.log_likelihood(), rel=RTOL)
    for level, std in ((0, model.std_low), (1, model.std_high)):
        ref_mean, ref_var = gp.predict_noiseless(np.c_[x_test, np.full(len(x_test), level)])
        mean, var = model.predict(x_test, level)
        mu = model.mean_low if level == 0 else model.mean_high
        np.testing.assert_allclose((mean - mu) / std, ref_mean[:, 0], rtol=RTOL, atol=1e-9)
        np.testing.assert_allclose(var / std**2, ref_var[:, 0], rtol=RTOL, atol=1e-9)


def test_fit_reaches_a_likelihood_optimum(data):
    """The fitted likelihood beats the fixed reference values and is stationary in the free parameters."""
    x_l, y_l, x_h, y_h, _ = data
    model = CoKriging(rng=np.random.default_rng(0)).fit(x_l, y_l, x_h, y_h)
    best, grad = model.log_marginal_likelihood(model.theta, gradient=True)
    assert best >= model.log_marginal_likelihood(THETA)
    rng = np.random.default_rng(1)
    lo, hi = np.array(model.bounds).T
    assert all(best >= model.log_marginal_likelihood(rng.uniform(lo, hi)) for _ in range(20))
    interior = (model.theta > lo + 1e-3) & (model.theta < hi - 1e-3)
    assert np.all(np.abs(grad[interior]) < 1e-2 * max(1.0, abs(best)))


def test_gradient_matches_finite_differences(data):
    from scipy.optimize import approx_fprime

    x_l, y_l, x_h, y_h, _ = data
    model = CoKriging(theta=THETA).fit(x_l, y_l, x_h, y_h, optimize=False)
    _, grad = model.log_marginal_likelihood(THETA, gradient=True)
    fd = approx_fprime(THETA, model.log_marginal_likelihood, 1e-6)
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-3)


def test_one_level_model_is_a_plain_gp(data):
    """levels=1 equals GPy's GP regression with the same kernel and noise."""
    x_l, y_l, _, _, x_test = data
    theta = THETA[1:4]
    model = CoKriging(levels=1, theta=theta).fit(x_l, y_l, optimize=False)
    c, ls, s = np.exp(theta)
    gp = GPy.models.GPRegression(x_l, model.y[:, None], GPy.kern.RBF(x_l.shape[1], c, ls), noise_var=s)
    mean, var = model.predict(x_test, 0)
    ref_mean, ref_var = gp.predict_noiseless(x_test)
    np.testing.assert_allclose((mean - model.mean_low) / model.std_low, ref_mean[:, 0], rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(var / model.std_low**2, ref_var[:, 0], rtol=RTOL, atol=1e-9)


def test_interpolates_noise_free_high_data_and_learns_rho():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    f_low = np.sin(x).sum(1)
    y_high = -0.8 * f_low[:20]  # exactly anti-correlated: rho must come out negative
    model = CoKriging(rng=rng).fit(x, f_low, x[:20], y_high)
    assert model.theta[0] < -0.5
    mean, var = model.predict(x[:20], 1)
    np.testing.assert_allclose(mean, y_high, atol=0.05)
    assert np.all(var < 0.05 * np.var(y_high))
    assert np.all(sqdist(x[:2], x[:2]).diagonal() == 0)


@pytest.mark.parametrize("split", [0, 1, 2])
def test_fit_matches_emukit_on_held_out_cells(tables, space, split):
    """Both fit the same model (emukit: GPy's optimizer, 5 restarts); on 300 held-out cells our
    high-level predictions are as accurate, and our likelihood is as high, within small margins."""
    rng = np.random.default_rng(100 + split)
    idx = rng.choice(15625, 360, replace=False)
    low, high, held_out = idx[:50], np.concatenate([idx[:10], idx[50:60]]), idx[60:]
    val12, val200 = tables.get("cifar100", "val_acc_12"), tables.get("cifar100", "val_acc_200")
    model = CoKriging(rng=np.random.default_rng(split)).fit(space.onehot(low), val12[low], space.onehot(high),
                                                            val200[high])
    gp = _emukit(model, model._default_theta(model.d))
    np.random.seed(split)  # GPy's restarts draw from numpy's global generator
    gp.optimize_restarts(5, verbose=False, robust=True)
    assert model.log_marginal_likelihood() >= gp.log_likelihood() - 0.5
    x = space.onehot(held_out)
    ref = gp.predict_noiseless(np.c_[x, np.ones(len(x))])[0][:, 0] * model.std_high + model.mean_high
    rmse = lambda pred: np.sqrt(np.mean((pred - val200[held_out]) ** 2))  # noqa: E731
    assert rmse(model.predict(x, 1)[0]) <= 1.05 * rmse(ref)


def test_refits_add_random_starts_on_the_schedule(data, monkeypatch):
    """Fit 1 runs the default and ``n_restarts`` random starts on all observations; a scheduled multi-start
    (``restart_every=4`` fits and ``restart_growth=0.1`` of new observations since the last) the warm start,
    the default and ``explore_starts`` random starts on half of each level's observations (exploratory, each
    distinct) and a polish of the best on all of them; the fits between run the warm start alone unless it
    reached a new bound."""
    x_l, y_l, x_h, y_h, _ = data
    model = CoKriging(n_restarts=3, explore_starts=2, explore_min=0, restart_every=4, restart_growth=0.1, refit_growth=0.0,
                      rng=np.random.default_rng(0))
    calls = []
    minimize = CoKriging._minimize
    monkeypatch.setattr(CoKriging, "_minimize",
                        lambda self, start, **o: calls.append((start, len(self.y), self.n_low)) or minimize(self, start, **o))
    n_high, scheduled_at = len(y_h), []
    for fit, n_low in enumerate([20, 21, 22, 23, 24, 25, 26, 27, 28, 29], start=1):
        before, multistarts = len(calls), model.n_multistart
        model.fit(x_l[:n_low], y_l[:n_low], x_h, y_h)
        made = calls[before:]
        if model.n_multistart == multistarts:
            assert len(made) == 1 and made[0][1] == n_low + n_high  # the warm start alone, on every observation
            continue
        scheduled_at.append(fit)
        if fit == 1:
            assert len(made) == 4 and all(size == n_low + n_high for _, size, _ in made)
        else:  # warm, default + 2 random on half of each level, polish
            assert len(made) == 5
            assert [size for _, size, _ in made] == [n_low + n_high] + [round(n_low / 2) + round(n_high / 2)] * 3 \
                + [n_low + n_high]
            assert all(low == round(n_low / 2) for _, _, low in made[1:4])
        assert len({tuple(np.round(start, 6)) for start, _, _ in made}) == len(made)
    # fit 5: 4 fits after fit 1 and 24 + 15 >= 1.1 * (20 + 15) observations; fit 9: 4 more, 28 + 15 >= 1.1 * 39
    assert scheduled_at[0] == 1 and {5, 9} <= set(scheduled_at)
    before = len(calls)
    for _ in range(8):  # no new observations: no scheduled multi-start, however many fits
        model.fit(x_l[:29], y_l[:29], x_h, y_h)
    assert len(calls) - before == 8


def test_exploratory_starts_are_ranked_on_all_observations(data, monkeypatch):
    """A scheduled multi-start polishes the exploratory end point with the highest likelihood on all
    observations (ranking on the explored half missed basins that only the newest observations favour)."""
    x_l, y_l, x_h, y_h, _ = data
    model = CoKriging(explore_starts=4, explore_min=0, restart_every=1, restart_growth=0.0, rng=np.random.default_rng(1))
    model.fit(x_l[:30], y_l[:30], x_h, y_h)
    calls = []
    minimize = CoKriging._minimize
    monkeypatch.setattr(CoKriging, "_minimize", lambda self, start, **o: calls.append(
        (self, np.array(start), minimize(self, start, **o))) or calls[-1][2])
    model.fit(x_l[:40], y_l[:40], x_h, y_h)
    explored = [result.x for owner, _, result in calls if owner is not model]
    polished = [start for owner, start, _ in calls if owner is model][1]  # after the warm start
    assert len(explored) == 5 and len({len(owner.y) for owner, _, _ in calls if owner is not model}) == 1
    values = [model.log_marginal_likelihood(x) for x in explored]
    np.testing.assert_array_equal(polished, explored[int(np.argmax(values))])
    sub = next(owner for owner, _, _ in calls if owner is not model)
    assert np.argmax(values) != np.argmax([sub.log_marginal_likelihood(x) for x in explored])  # the test can tell


def test_explorer_fits_half_of_each_level_and_at_least_explore_min(data):
    """The exploratory starts' model: a random half of each level's observations with their standardized
    targets and the full model's bounds; more when half is below ``explore_min`` observations, all when all are."""
    x_l, y_l, x_h, y_h, _ = data  # 40 low, 15 high
    model = CoKriging(explore_min=0, rng=np.random.default_rng(0)).fit(x_l, y_l, x_h, y_h, optimize=False)
    for explore_min, sizes in ((0, (20, 8)), (40, (29, 11)), (55, None)):
        model.explore_min = explore_min
        sub = model._explorer()
        if sizes is None:
            assert sub is model
            continue
        assert (sub.n_low, len(sub.y) - sub.n_low) == sizes and sub.bounds == model.bounds
        for x_sub, y_sub, x_all, y_all in ((sub.x_low, sub.y[:sub.n_low], model.x_low, model.y[:model.n_low]),
                                           (sub.x_high, sub.y[sub.n_low:], model.x_high, model.y[model.n_low:])):
            rows = [int(np.flatnonzero((x_all == x).all(1))[0]) for x in x_sub]
            assert len(set(rows)) == len(rows) and np.array_equal(y_sub, y_all[rows])


def test_fitted_variances_use_the_inverse_of_the_fitted_factor(data):
    """The factor's inverse kept from the last gradient serves predictions only when that gradient was at the
    fitted hyperparameters: after every fit (warm refits and multi-starts, some of which keep the warm optimum
    although a polished start was evaluated last) the variances equal a fresh model's at the same theta."""
    x_l, y_l, x_h, y_h, x_test = data
    model = CoKriging(explore_min=0, restart_every=2, restart_growth=0.0, rng=np.random.default_rng(0))
    stale_gradients = 0
    for n_low in range(30, 41):
        model.fit(x_l[:n_low], y_l[:n_low], x_h, y_h)
        stale_gradients += not np.array_equal(model._inverted[0], model.theta)
        fresh = CoKriging(theta=model.theta).fit(x_l[:n_low], y_l[:n_low], x_h, y_h, optimize=False)
        for level in (0, 1):
            np.testing.assert_allclose(model.predict(x_test, level)[1], fresh.predict(x_test, level)[1], rtol=1e-9)
    assert stale_gradients  # the case where the kept inverse must not be used occurred


def test_fits_between_refits_condition_on_the_new_observations(data):
    """With ``refit_growth=0.25`` a fit refits the hyperparameters only once the observations grew by a quarter:
    the fits between keep them and condition on the new observations (the posterior interpolates them)."""
    x_l, y_l, x_h, y_h, _ = data
    model = CoKriging(refit_growth=0.25, restart_every=100, rng=np.random.default_rng(0))
    model.fit(x_l[:20], y_l[:20], x_h, y_h)  # 35 observations
    theta = model.theta.copy()
    for n_low in (21, 25, 28):  # below 1.25 * 35 = 43.75 observations
        model.fit(x_l[:n_low], y_l[:n_low], x_h, y_h)
        assert np.array_equal(model.theta, theta) and len(model.alpha) == n_low + len(y_h)
        fresh = CoKriging(theta=theta).fit(x_l[:n_low], y_l[:n_low], x_h, y_h, optimize=False)
        np.testing.assert_array_equal(model.predict(x_l[:n_low], 0)[0], fresh.predict(x_l[:n_low], 0)[0])
    model.fit(x_l[:29], y_l[:29], x_h, y_h)  # 44 observations: a refit
    assert not np.array_equal(model.theta, theta)
    assert model.log_marginal_likelihood() >= CoKriging(theta=theta).fit(
        x_l[:29], y_l[:29], x_h, y_h, optimize=False).log_marginal_likelihood()
    model.fit(x_l[:20], y_l[:20], x_h, y_h)  # fewer observations than at the last refit: a refit, never a stale fit
    assert model.n_fits == 6 and model._refit_size == 35


def test_length_scale_floor_keeps_nearest_cells_correlated(data):
    """At the floor, the two closest observed cells (one edge apart: squared distance 2) still
    correlate by MIN_CORRELATION, so the model never makes every cell independent."""
    from mfkdbench.mfkd.cokriging import MIN_CORRELATION, RHO_MAX

    x_l, y_l, x_h, y_h, _ = data
    model = CoKriging(theta=THETA).fit(x_l, y_l, x_h, y_h, optimize=False)
    positive = model.d[model.d > 0]
    for position in (2, 5):
        floor = np.exp(model.bounds[position][0])
        assert np.exp(-positive.min() / (2 * floor**2)) == pytest.approx(MIN_CORRELATION)
    assert model.bounds[0] == (-RHO_MAX, RHO_MAX) and RHO_MAX > 1
