"""Two-level autoregressive co-kriging (Kennedy and O'Hagan, 2000), and its one-level case, a plain GP.

Model (MF-KD, Trofimov et al., IEEE Access 2023, as in the authors' code)::

    f_high(x) = rho * f_low(x) + delta(x),   f_low ~ GP(0, k_l),  delta ~ GP(0, k_d),  |rho| <= 4
    k_t(x, x') = c_t * exp(-|x - x'|^2 / (2 l_t^2))   (constant * RBF)
    y_low = f_low + N(0, s_l),   y_high = f_high + N(0, s_h)

With a zero-cost prior (``fit(..., prior_low=, prior_high=)``: a training-free score ``z`` of every
observed cell, known for every cell at no training cost) the low level gets the prior mean ``w z(x)``, so
``f_low = w z + g``, ``f_high = rho (w z + g) + delta`` (universal kriging with one regressor). The weight
``w`` is not a hyperparameter: at every ``theta`` it is the generalized-least-squares estimate
``h^T K^-1 y / h^T K^-1 h`` with ``h = [z_low; rho z_high]``, the maximizer of the likelihood, which is
then the profile likelihood (its gradient: the fixed-``w`` one plus, for ``rho``, ``w alpha_high^T z_high``).

Each level has its own observation noise (``s_h`` is free of ``s_l``, as in
emukit's linear multi-fidelity model). All observations of both levels form
one joint Gaussian (no nesting is assumed); each level's targets are
standardized on their own, so ``rho`` may exceed 1 in magnitude. Length
scales have a floor at which the nearest observed cells still correlate by
``MIN_CORRELATION`` (a kernel that makes every cell independent would leave
the acquisition flat). Hyperparameters maximize the exact joint marginal
likelihood with L-BFGS-B and analytic gradients, on a schedule that scales
with the data (:meth:`CoKriging._optimize`): a refit warm-starts from the last
optimum once the observations grew by ``refit_growth`` (1 %: every fit below
100 observations, every 5th at 500; the fits between condition on the new
observations at the last hyperparameters: a refit one observation later gains
0.0006 to 0.02 nats, measured at 100 to 500 observations); the first fit, a fit ``restart_every`` fits and
``restart_growth`` (10 %) of new observations after the last multi-start, and
any refit whose warm optimum reaches a bound not reached at the last
multi-start add the default and random starts. On a refit those starts are
exploratory: ``explore_maxiter`` iterations on a random ``explore_share`` of
each level's observations, ranked on all of them, the best polished.

Hand-written on numpy/scipy because a search conditions or refits it at every
step and scores all 15,625 cells. Per likelihood evaluation: the joint matrix is a
table lookup (an entry depends only on its block and squared distance, and
binary encodings have a few distinct ones, binned once per fit), one Cholesky,
one inverse for the gradient (the triangular inverse by halves), and one
``np.bincount`` pass that sums ``alpha alpha^T - K^-1`` per bin, after which
each derivative is a dot product over the bins. A loose tolerance on warm
starts; :meth:`CoKriging.mean_terms` / :meth:`CoKriging.cross_cov` /
:meth:`CoKriging.variance_from_cross` / :meth:`CoKriging.variance_bound` let
:mod:`mfkdbench.mfkd.acquisition` score candidates without a full
cross-covariance matrix. It is checked against
emukit's linear multi-fidelity model (GPy) in the tests.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack
from scipy.optimize import minimize

#: per level: log constant, log length scale, log noise variance (the length-scale floor depends on the data).
#: Noise floor 1e-3 of the standardized variance: below it the likelihood is flat and warm fits wander.
_BOUNDS_LEVEL = [(np.log(1e-3), np.log(1e2)), (None, np.log(100.0)), (np.log(1e-3), np.log(2.0))]
#: where random starts are drawn, per level (the length scale from its floor)
_STARTS_LEVEL = [(np.log(0.1), np.log(10.0)), (None, np.log(10.0)), (np.log(1e-3), np.log(0.5))]
RHO_MAX = 4.0
#: correlation of the two closest observed inputs at the length-scale floor
MIN_CORRELATION = 0.01
#: a parameter this close to a bound (in its own units: log scale, or rho) sits at it
_AT_BOUND = 1e-3
_JITTER = 1e-9


def sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and ``b`` (clipped at 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = a @ b.T
    d *= -2.0
    d += (a * a).sum(1)[:, None]
    d += (b * b).sum(1)
    return np.maximum(d, 0.0, out=d)


def _correlation(d: np.ndarray, lengthscale: float, dtype=np.float64) -> np.ndarray:
    """The RBF kernel's correlation ``exp(-d / (2 l^2))`` at squared distances ``d``, computed in ``dtype``."""
    return np.exp(d * dtype(-0.5 / lengthscale**2))


def _standardize(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0:
        return y, 0.0, 1.0
    mean = float(y.mean())
    std = float(y.std()) if len(y) > 1 and y.std() > 1e-12 else 1.0
    return (y - mean) / std, mean, std


def _inverse_lower(l: np.ndarray) -> np.ndarray:
    """Inverse of the lower triangle of ``l`` (Fortran order, overwritten), by halves with ``trmm``
    (single-threaded OpenBLAS runs ``trtri`` at a fifth of its ``gemm`` speed; halves down to 64 rows
    are 1.8x faster at 500 rows)."""
    n = len(l)
    if n <= 64:
        return lapack.dtrtri(l, lower=1, overwrite_c=1)[0]
    h = n // 2
    a, c = _inverse_lower(np.asfortranarray(l[:h, :h])), _inverse_lower(np.asfortranarray(l[h:, h:]))
    b = blas.dtrmm(1.0, a, np.asfortranarray(l[h:, :h]), side=1, lower=1, overwrite_b=1)  # B A^-1
    l[h:, :h] = blas.dtrmm(-1.0, c, b, lower=1, overwrite_b=1)  # -C^-1 B A^-1
    l[:h, :h], l[h:, h:] = a, c
    return l


def _bins(d: np.ndarray, x: np.ndarray, n_low: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct squared distances, and per pair of observations its bin in the covariance table.

    Bin ``block * len(values) + k`` for a pair at ``values[k]`` on or below
    the diagonal, block 0 low-low, 1 high-low, 2 high-high; the diagonal:
    ``3 * len(values)`` (low) and ``+ 1`` (high). Above the diagonal: unused.
    Binary encodings (one-hot, path) have integer squared distances, a few distinct.
    """
    n = len(d)
    if np.isin(x, (0.0, 1.0)).all():
        values, index = np.arange(int(d.max(initial=0.0)) + 1, dtype=np.float64), d.astype(np.intp)
    else:
        values, index = np.unique(d, return_inverse=True)
        index = index.reshape(d.shape)
    nv = len(values)
    bins = index.T  # Fortran order, as LAPACK takes it (d is symmetric)
    bins[n_low:, :n_low] += nv
    bins[n_low:, n_low:] += 2 * nv
    bins[np.arange(n), np.arange(n)] = 3 * nv + (np.arange(n) >= n_low)
    return values, bins


class CoKriging:
    """Kennedy-O'Hagan co-kriging with ``levels=2``; a single GP (low level only) with ``levels=1``.

    ``theta`` (log scale except ``rho``): ``[rho, log c_l, log l_l, log s_l, log c_d, log l_d, log s_h]``
    for two levels, ``[log c, log l, log s]`` for one. ``weight``: the fitted weight ``w`` of the
    zero-cost prior mean (0 without one).
    """

    def __init__(self, levels: int = 2, n_restarts: int = 3, rng: np.random.Generator | None = None,
                 theta: np.ndarray | None = None, maxiter: int = 50, warm_ftol: float = 1e-6,
                 refit_growth: float = 0.01, restart_every: int = 10, restart_growth: float = 0.1,
                 explore_starts: int = 6, explore_share: float = 0.5, explore_min: int = 100,
                 explore_maxiter: int = 8):
        if levels not in (1, 2):
            raise ValueError("levels must be 1 or 2")
        self.levels = levels
        self.n_restarts = n_restarts  # random starts of the first fit (besides the default)
        self.refit_growth = refit_growth  # a warm refit once the observations grew by this share; else condition
        self.restart_every = restart_every  # at least this many fits from one multi-start to the next
        self.restart_growth = restart_growth  # ... and at least this share of the observations at the last one
        self.maxiter = maxiter  # L-BFGS-B iterations per start
        self.warm_ftol = warm_ftol  # L-BFGS-B's relative tolerance on the likelihood, warm starts
        self.explore_starts = explore_starts  # random starts of a refit (besides the default)
        self.explore_share = explore_share  # share of each level's observations they fit ...
        self.explore_min = explore_min  # ... but at least this many observations in all
        self.explore_maxiter = explore_maxiter  # L-BFGS-B iterations of each
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.theta = None if theta is None else np.asarray(theta, dtype=np.float64)
        self.n_fits = 0
        self.n_multistart = 0
        self._multistart_fit, self._multistart_size, self._refit_size = 0, 0, 0
        self._bounds_at_multistart: frozenset = frozenset()

    # ---- parameters ----------------------------------------------------------
    def _unpack(self, theta):
        if self.levels == 1:
            return 1.0, np.exp(theta[0:3]), None
        return float(theta[0]), np.exp(theta[1:4]), np.exp(theta[4:7])

    def _default_theta(self, d: np.ndarray) -> np.ndarray:
        positive = d[d > 0]
        ls = np.log(np.sqrt(np.median(positive))) if positive.size else 0.0
        low = [0.0, ls, np.log(1e-2)]
        return np.array(low if self.levels == 1 else [0.5] + low + [np.log(0.1), ls, np.log(1e-2)])

    def _limits(self, per_level) -> list[tuple[float, float]]:
        """``per_level`` ranges for every parameter, the length-scale floor filled in from the data."""
        positive = self.d[self.d > 0]
        floor = np.log(np.sqrt((positive.min() if positive.size else 1.0) / (2 * np.log(1 / MIN_CORRELATION))))
        level = [(lo if lo is not None else floor, hi) for lo, hi in per_level]
        return level if self.levels == 1 else [(-RHO_MAX, RHO_MAX)] + level * 2

    def at_bounds(self, theta=None) -> frozenset:
        """Positions of the parameters of ``theta`` that sit at a bound."""
        theta = self.theta if theta is None else theta
        lo, hi = np.array(self.bounds).T
        return frozenset(np.flatnonzero((theta - lo < _AT_BOUND) | (hi - theta < _AT_BOUND)).tolist())

    # ---- fitting -------------------------------------------------------------
    def fit(self, x_low, y_low, x_high=None, y_high=None, optimize: bool = True, prior_low=None,
            prior_high=None) -> CoKriging:
        """Condition on the observations (and fit hyperparameters unless ``optimize=False``); ``prior_low`` /
        ``prior_high``: the zero-cost score of each observed cell (both or neither), for the prior mean."""
        x_low = np.asarray(x_low, dtype=np.float64)
        x_high = np.zeros((0, x_low.shape[1])) if x_high is None else np.asarray(x_high, dtype=np.float64)
        if self.levels == 1 and len(x_high):
            raise ValueError("a one-level model takes no high-fidelity data")
        y_l, self.mean_low, self.std_low = _standardize(y_low)
        y_h, self.mean_high, self.std_high = _standardize(np.zeros(0) if y_high is None else y_high)
        prior = None if prior_low is None else np.concatenate([prior_low, np.zeros(0) if prior_high is None
                                                                else prior_high]).astype(np.float64)
        self._condition(x_low, y_l, x_high, y_h, prior)
        self.bounds = self._limits(_BOUNDS_LEVEL)
        if optimize:
            self.theta = self._optimize()
        elif self.theta is None:
            self.theta = self._default_theta(self.d)
        self.chol, self.alpha = self._factor(self.theta)
        self.weight = self._factored[3]
        inverted = self._inverted
        self._chol_inv = inverted[1] if inverted is not None and np.array_equal(inverted[0], self.theta) else None
        return self

    def _condition(self, x_low, y_low, x_high, y_high, prior=None) -> None:
        """Set the (standardized) observations, their zero-cost scores and their binned squared distances."""
        if prior is not None and len(prior) != len(y_low) + len(y_high):
            raise ValueError("the zero-cost prior needs one score per observation")
        self.x_low, self.x_high, self.n_low, self.prior = x_low, x_high, len(y_low), prior
        self.y = np.concatenate([y_low, y_high])
        x_all = np.vstack([x_low, x_high])
        self.d = sqdist(x_all, x_all)
        self._dvalues, self._bins = _bins(self.d, x_all, self.n_low)
        self._factored = self._inverted = None  # the last (theta, chol, alpha, weight) and (theta, chol^-1)

    def _explorer(self) -> CoKriging:
        """This model on a random ``explore_share`` of each level's observations, at least ``explore_min`` in all
        (same targets and bounds)."""
        fraction = min(1.0, max(self.explore_share, self.explore_min / len(self.y)))
        if fraction == 1.0:
            return self
        picks = []
        for size in (self.n_low, len(self.y) - self.n_low):
            keep = min(size, max(2, round(fraction * size)))
            picks.append(np.sort(self.rng.choice(size, keep, replace=False)) if size else np.zeros(0, np.intp))
        low, high = picks
        sub = CoKriging(self.levels)
        prior = None if self.prior is None else np.concatenate([self.prior[: self.n_low][low],
                                                                 self.prior[self.n_low:][high]])
        sub._condition(self.x_low[low], self.y[: self.n_low][low], self.x_high[high], self.y[self.n_low:][high],
                       prior)
        sub.bounds = self.bounds
        return sub

    def _optimize(self) -> np.ndarray:
        """Warm start from the last optimum when a refit is due; add the default and random starts on the
        multi-start schedule or at a newly reached bound.

        The first fit polishes the default and ``n_restarts`` random starts
        fully. On a refit the default and ``explore_starts`` random starts
        explore for ``explore_maxiter`` L-BFGS-B iterations on a random
        ``explore_share`` of each level's observations (at least
        ``explore_min`` in all); their end points are ranked on all
        observations (ranking on the subset missed basins that only the newest
        observations favour), the best is polished (to ``warm_ftol``) and kept
        if it beats the warm optimum. Measured over 12 whole NB201 searches
        (``docs/mfkd.md``): 3 of 198 checkpoints more than 0.5 nats below a
        fresh 10-start fit, as with full-data multi-starts on every 10th fit
        and a refit at every fit, at 0.45x their fitting time.
        """
        self.n_fits += 1
        scheduled = self.multistart_due()
        if self.theta is not None and not scheduled and not self.refit_due():
            return self.theta
        self._refit_size = len(self.y)
        warm = None
        if self.theta is not None:
            warm = self._minimize(self.theta, ftol=self.warm_ftol)
            if not scheduled and not self.at_bounds(warm.x) - self._bounds_at_multistart:
                return warm.x
        lo, hi = np.array(self._limits(_STARTS_LEVEL)).T
        n_random = self.n_restarts if warm is None else self.explore_starts
        starts = [self._default_theta(self.d)] + [self.rng.uniform(lo, hi) for _ in range(n_random)]
        if warm is None:
            best = min((self._minimize(start) for start in starts), key=lambda res: res.fun)
        else:
            explorer = self._explorer()
            explored = [explorer._minimize(start, maxiter=self.explore_maxiter).x for start in starts]
            found = self._minimize(max(explored, key=self._value), ftol=self.warm_ftol)  # ranked on all observations
            best = found if found.fun < warm.fun else warm
        self.n_multistart += 1
        self._multistart_fit, self._multistart_size = self.n_fits, len(self.y)
        self._bounds_at_multistart = self.at_bounds(best.x)
        return best.x

    def refit_due(self) -> bool:
        """Whether this fit refits the hyperparameters: the observations grew by a ``refit_growth`` share
        since the last refit (every fit below ``1 / refit_growth`` observations), or shrank."""
        return not self._refit_size <= len(self.y) < (1 + self.refit_growth) * self._refit_size

    def multistart_due(self) -> bool:
        """Whether this fit is a scheduled multi-start: ``restart_every`` fits and a ``restart_growth``
        share of new observations since the last one."""
        since = self.n_fits - self._multistart_fit
        return since >= self.restart_every and len(self.y) >= (1 + self.restart_growth) * self._multistart_size

    def _minimize(self, start, ftol=None, maxiter=None):
        lo, hi = np.array(self.bounds).T
        options = {"maxiter": maxiter or self.maxiter} | ({} if ftol is None else {"ftol": ftol})
        return minimize(self._neg_lml, np.clip(start, lo, hi), jac=True, method="L-BFGS-B", bounds=self.bounds,
                        options=options)

    def _value(self, theta) -> float:
        """Log marginal likelihood at ``theta`` (no gradient); -inf where the covariance is not positive definite."""
        try:
            return self.log_marginal_likelihood(theta)
        except np.linalg.LinAlgError:
            return -np.inf

    def _neg_lml(self, theta):
        try:
            value, grad = self.log_marginal_likelihood(theta, gradient=True)
        except np.linalg.LinAlgError:
            return 1e25, np.zeros_like(theta)
        return -value, -grad

    def _factor(self, theta):
        """Cholesky factor (lower) of the joint covariance of all observations and ``K^-1 (y - w h)``
        (``w = 0`` without a zero-cost prior, else its least-squares weight at ``theta``).

        The covariance is a table lookup: its entries depend only on the block
        (low-low, high-low, high-high, diagonal) and the squared distance,
        one of ``self._dvalues``. The last factor is kept for :meth:`fit`.
        """
        theta = np.asarray(theta, dtype=np.float64)
        if self._factored is not None and np.array_equal(self._factored[0], theta):
            return self._factored[1:3]
        rho, (c_l, ls_l, s_l), delta = self._unpack(theta)
        nv = len(self._dvalues)
        table = np.empty(3 * nv + 2)  # low-low, high-low, high-high; diagonal low, high
        k_l = c_l * _correlation(self._dvalues, ls_l)
        table[:nv], table[nv:2 * nv], table[2 * nv:3 * nv] = k_l, rho * k_l, rho * rho * k_l
        table[3 * nv] = c_l + s_l + _JITTER
        table[3 * nv + 1] = rho * rho * c_l + _JITTER
        if delta is not None:
            c_d, ls_d, s_h = delta
            table[2 * nv:3 * nv] += c_d * _correlation(self._dvalues, ls_d)
            table[3 * nv + 1] += c_d + s_h
        chol, info = lapack.dpotrf(table[self._bins], lower=1, overwrite_a=1)  # upper triangle zeroed
        if info != 0:
            raise np.linalg.LinAlgError("joint covariance is not positive definite")
        alpha, _ = lapack.dpotrs(chol, self.y, lower=1)
        weight = 0.0
        if self.prior is not None:
            h = self._regressor(rho)
            k_h, _ = lapack.dpotrs(chol, h, lower=1)
            weight = float(h @ alpha) / float(h @ k_h)
            alpha = alpha - weight * k_h
        self._factored = (theta.copy(), chol, alpha, weight)
        return chol, alpha

    def _regressor(self, rho: float) -> np.ndarray:
        """``h``: the zero-cost score of each observation, times ``rho`` at the high level."""
        h = self.prior.copy()
        h[self.n_low:] *= rho
        return h

    def log_marginal_likelihood(self, theta=None, gradient: bool = False):
        """Log marginal likelihood of the standardized observations (and its gradient in ``theta``).

        Gradient: ``0.5 * sum(W * dK)`` with ``W = alpha alpha^T - K^-1``. Every
        ``dK`` is a function of the block and the squared distance, so one pass
        sums ``W``'s lower triangle per block and distance (``np.bincount``)
        and each derivative is a dot product with those sums.
        """
        theta = self.theta if theta is None else np.asarray(theta, dtype=np.float64)
        chol, alpha = self._factor(theta)
        weight = self._factored[3]
        n, nv = len(self.y), len(self._dvalues)
        residual = self.y if self.prior is None else self.y - weight * self._regressor(self._unpack(theta)[0])
        value = -0.5 * residual @ alpha - np.log(np.diag(chol)).sum() - 0.5 * n * np.log(2 * np.pi)
        if not gradient:
            return value
        chol_inv = _inverse_lower(chol.copy(order="F"))
        self._inverted = (theta.copy(), chol_inv)  # kept for variance_from_cross when theta is the fit
        inv, _ = lapack.dlauum(chol_inv, lower=1)  # lower triangle of K^-1 (chol_inv left as it is)
        inv = blas.dsyr(-1.0, alpha, lower=1, a=inv, overwrite_a=1)  # -W
        sums = -np.bincount(self._bins.ravel("K"), inv.ravel("K"), 3 * nv + 2)  # its upper triangle is 0
        w_ll, w_hl, w_hh = sums[:nv], sums[nv:2 * nv], sums[2 * nv:3 * nv]  # off the diagonal, counted twice
        tr_l, tr_h = 0.5 * sums[3 * nv], 0.5 * sums[3 * nv + 1]
        rho, (c_l, ls_l, s_l), delta = self._unpack(theta)
        r_l = _correlation(self._dvalues, ls_l)
        q_l = r_l * self._dvalues / ls_l**2
        r_ll, r_hl, r_hh = w_ll @ r_l + tr_l, w_hl @ r_l, w_hh @ r_l + tr_h
        q_ll, q_hl, q_hh = w_ll @ q_l, w_hl @ q_l, w_hh @ q_l
        grad = [c_l * (r_ll + rho * r_hl + rho * rho * r_hh), c_l * (q_ll + rho * q_hl + rho * rho * q_hh),
                s_l * tr_l]
        if self.levels == 2:
            c_d, ls_d, s_h = delta
            r_d = _correlation(self._dvalues, ls_d)
            d_rho = c_l * (r_hl + 2 * rho * r_hh)
            if self.prior is not None:  # the prior mean rho w z of the high observations
                d_rho += weight * (alpha[self.n_low:] @ self.prior[self.n_low:])
            grad = [d_rho] + grad + [
                c_d * (w_hh @ r_d + tr_h), c_d * (w_hh @ (r_d * self._dvalues)) / ls_d**2, s_h * tr_h]
        return value, np.array(grad)

    # ---- prediction ------------------------------------------------------------
    def prior_weight(self, level: int) -> float:
        """Weight of the zero-cost score in the prior mean of ``f_level``: ``w`` (low), ``rho w`` (high)."""
        return self.weight * self._unpack(self.theta)[0] ** level

    def prior_var(self, level: int) -> float:
        """Prior variance of the (standardized) latent function at ``level``."""
        rho, (c_l, _, _), delta = self._unpack(self.theta)
        return c_l if level == 0 else rho**2 * c_l + delta[0]

    def cross_cov(self, d_low: np.ndarray, d_high: np.ndarray, level: int, dtype=np.float64) -> np.ndarray:
        """Covariances between latent ``f_level`` at query points and every observation.

        ``d_low`` / ``d_high``: squared distances from the queries to the low /
        high observations, in the order they were given to :meth:`fit`.
        """
        self._check_level(level)
        rho, (c_l, ls_l, _), delta = self._unpack(self.theta)
        k_l = lambda d: (c_l * _correlation(d, ls_l, dtype)).astype(dtype, copy=False)  # noqa: E731
        if self.levels == 1:
            return k_l(d_low)
        # cov(f_level, y_low) = rho^level k_l; cov(f_level, y_high) = rho^(level+1) k_l + level * k_d
        out = np.empty((d_low.shape[0], self.n_low + d_high.shape[1]), dtype=dtype)
        out[:, : self.n_low] = k_l(d_low) * dtype(rho**level)
        out[:, self.n_low:] = k_l(d_high) * dtype(rho ** (level + 1))
        if level == 1:
            c_d, ls_d, _ = delta
            out[:, self.n_low:] += c_d * _correlation(d_high, ls_d, dtype)
        return out

    def mean_terms(self, level: int) -> list[tuple[float, float, np.ndarray]]:
        """The standardized posterior mean of ``f_level`` as kernel expansions over the observations.

        ``mean(x) = sum over (c, l, w) of c * sum_j w_j exp(-|x - x_j|^2 / (2 l^2))``,
        ``j`` running over the low then the high observations: the same as
        ``cross_cov(...) @ alpha``, in a form that structured candidate sets can
        evaluate without the cross-covariance matrix.
        """
        self._check_level(level)
        rho, (c_l, ls_l, _), delta = self._unpack(self.theta)
        a_low, a_high = self.alpha[: self.n_low], self.alpha[self.n_low:]
        terms = [(c_l, ls_l, np.concatenate([a_low * rho**level, a_high * rho ** (level + 1)]))]
        if level == 1:
            terms.append((delta[0], delta[1], np.concatenate([np.zeros(self.n_low), a_high])))
        return terms

    def variance_from_cross(self, cross: np.ndarray, level: int) -> np.ndarray:
        """Standardized latent posterior variance from rows of :meth:`cross_cov`.

        ``prior - |L^-1 k|^2`` with ``L^-1`` computed once per fit, or kept from the fit's last
        gradient (a triangular product runs 3x faster than the triangular solve).
        """
        if self._chol_inv is None:
            self._chol_inv = _inverse_lower(self.chol.copy(order="F"))
        v = blas.dtrmm(1.0, self._chol_inv, np.asarray(cross, dtype=np.float64).T, lower=1)
        return np.maximum(self.prior_var(level) - (v * v).sum(0), 1e-12)

    def variance_bound(self, d_low: np.ndarray, d_high: np.ndarray, level: int) -> np.ndarray:
        """Upper bound on the standardized latent posterior variance of ``f_level`` at query points.

        ``d_low`` / ``d_high``: squared distance from each query to its nearest
        low / high observation (``inf``: none). The bound is the variance given
        that one observation alone: conditioning on more never raises it.
        """
        self._check_level(level)
        rho, (c_l, ls_l, s_l), delta = self._unpack(self.theta)
        d_low, d_high = np.asarray(d_low, dtype=np.float64), np.asarray(d_high, dtype=np.float64)
        reduction = (rho**level * (c_l * _correlation(d_low, ls_l))) ** 2 / (c_l + s_l + _JITTER)
        if self.levels == 2:
            c_d, ls_d, s_h = delta
            cov = rho ** (level + 1) * (c_l * _correlation(d_high, ls_l)) + level * c_d * _correlation(d_high, ls_d)
            reduction = np.maximum(reduction, cov**2 / (rho * rho * c_l + c_d + s_h + _JITTER))
        return np.maximum(self.prior_var(level) - reduction, 1e-12)

    def unstandardize(self, mean, var, level: int):
        """Mean and variance in the units of ``level``'s observations."""
        mu, sd = (self.mean_low, self.std_low) if level == 0 else (self.mean_high, self.std_high)
        return mean * sd + mu, var * sd**2

    def predict(self, x, level: int = 1, prior=None) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent ``f_low`` (``level=0``) or ``f_high`` (``level=1``);
        ``prior``: the zero-cost scores of ``x`` (a model fitted with a prior needs them)."""
        x = np.asarray(x, dtype=np.float64)
        cross = self.cross_cov(sqdist(x, self.x_low), sqdist(x, self.x_high), level)
        mean = cross @ self.alpha
        if self.prior is not None:
            mean += self.prior_weight(level) * np.asarray(prior, dtype=np.float64)
        return self.unstandardize(mean, self.variance_from_cross(cross, level), level)

    def _check_level(self, level: int) -> None:
        if level not in range(self.levels):
            raise ValueError(f"level must be in 0..{self.levels - 1}")
