"""Two-level autoregressive co-kriging (Kennedy and O'Hagan, 2000), and its one-level case, a plain GP.

Model (MF-KD, Trofimov et al., IEEE Access 2023, as in the authors' code)::

    f_high(x) = rho * f_low(x) + delta(x),   f_low ~ GP(0, k_l),  delta ~ GP(0, k_d),  |rho| <= 4
    k_t(x, x') = c_t * exp(-|x - x'|^2 / (2 l_t^2))   (constant * RBF)
    y_low = f_low + N(0, s_l),   y_high = f_high + N(0, s_h)

Each level has its own observation noise (``s_h`` is free of ``s_l``, as in
emukit's linear multi-fidelity model). All observations of both levels form
one joint Gaussian (no nesting is assumed); each level's targets are
standardized on their own, so ``rho`` may exceed 1 in magnitude. Length
scales have a floor at which the nearest observed cells still correlate by
``MIN_CORRELATION`` (a kernel that makes every cell independent would leave
the acquisition flat). Hyperparameters maximize the exact joint marginal
likelihood with L-BFGS-B and analytic gradients. A fit warm-starts from the
last optimum; every ``restart_every``-th fit, the first, and any fit whose
warm optimum reaches a bound not reached at the last multi-start add
``n_restarts`` random starts (:meth:`CoKriging.fit`).

Hand-written on numpy/scipy because the search refits it at every step and
scores all 15,625 cells: one Cholesky (and, for the gradient, one inverse) of
the joint matrix per likelihood evaluation, a loose tolerance on warm starts,
and :meth:`CoKriging.mean_terms` / :meth:`CoKriging.cross_cov` /
:meth:`CoKriging.variance_from_cross` let :mod:`mfkdbench.mfkd.acquisition` score
candidates without a full cross-covariance matrix. It is checked against
emukit's linear multi-fidelity model (GPy) in the tests.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_solve, lapack, solve_triangular
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
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _standardize(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0:
        return y, 0.0, 1.0
    mean = float(y.mean())
    std = float(y.std()) if len(y) > 1 and y.std() > 1e-12 else 1.0
    return (y - mean) / std, mean, std


class CoKriging:
    """Kennedy-O'Hagan co-kriging with ``levels=2``; a single GP (low level only) with ``levels=1``.

    ``theta`` (log scale except ``rho``): ``[rho, log c_l, log l_l, log s_l, log c_d, log l_d, log s_h]``
    for two levels, ``[log c, log l, log s]`` for one.
    """

    def __init__(self, levels: int = 2, n_restarts: int = 3, rng: np.random.Generator | None = None,
                 theta: np.ndarray | None = None, maxiter: int = 50, warm_ftol: float = 1e-6,
                 restart_every: int = 10):
        if levels not in (1, 2):
            raise ValueError("levels must be 1 or 2")
        self.levels = levels
        self.n_restarts = n_restarts
        self.restart_every = restart_every  # every k-th fit is a multi-start fit
        self.maxiter = maxiter  # L-BFGS-B iterations per start
        self.warm_ftol = warm_ftol  # L-BFGS-B's relative tolerance on the likelihood, warm starts
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.theta = None if theta is None else np.asarray(theta, dtype=np.float64)
        self.n_fits = 0
        self.n_multistart = 0
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
    def fit(self, x_low, y_low, x_high=None, y_high=None, optimize: bool = True) -> CoKriging:
        """Condition on the observations (and fit hyperparameters unless ``optimize=False``)."""
        self.x_low = np.asarray(x_low, dtype=np.float64)
        self.x_high = np.zeros((0, self.x_low.shape[1])) if x_high is None else np.asarray(x_high, dtype=np.float64)
        if self.levels == 1 and len(self.x_high):
            raise ValueError("a one-level model takes no high-fidelity data")
        y_l, self.mean_low, self.std_low = _standardize(y_low)
        y_h, self.mean_high, self.std_high = _standardize(np.zeros(0) if y_high is None else y_high)
        self.n_low = len(y_l)
        self.y = np.concatenate([y_l, y_h])
        x_all = np.vstack([self.x_low, self.x_high])
        self.d = sqdist(x_all, x_all)
        self.high_mask = np.arange(len(self.y)) >= self.n_low
        self.bounds = self._limits(_BOUNDS_LEVEL)
        if optimize:
            self.theta = self._optimize()
        elif self.theta is None:
            self.theta = self._default_theta(self.d)
        self._condition()
        return self

    def _optimize(self) -> np.ndarray:
        """Warm start from the last optimum; add random starts on the schedule or at a newly reached bound."""
        self.n_fits += 1
        best = None
        if self.theta is not None:
            best = self._minimize(self.theta, ftol=self.warm_ftol)
            at_bounds = self.at_bounds(best.x)
            if self.n_fits % self.restart_every and not at_bounds - self._bounds_at_multistart:
                return best.x
        lo, hi = np.array(self._limits(_STARTS_LEVEL)).T
        starts = [self._default_theta(self.d)] + [self.rng.uniform(lo, hi) for _ in range(self.n_restarts)]
        for start in starts:
            res = self._minimize(start)
            if best is None or res.fun < best.fun:
                best = res
        self.n_multistart += 1
        self._bounds_at_multistart = self.at_bounds(best.x)
        return best.x

    def _minimize(self, start, **options):
        lo, hi = np.array(self.bounds).T
        return minimize(self._neg_lml, np.clip(start, lo, hi), jac=True, method="L-BFGS-B", bounds=self.bounds,
                        options={"maxiter": self.maxiter, **options})

    def _neg_lml(self, theta):
        try:
            value, grad = self.log_marginal_likelihood(theta, gradient=True)
        except np.linalg.LinAlgError:
            return 1e25, np.zeros_like(theta)
        return -value, -grad

    def _joint_cov(self, theta):
        """Joint covariance of all observations (low ones first) and the pieces its gradient needs."""
        rho, (c_l, ls_l, s_l), delta = self._unpack(theta)
        nl, n = self.n_low, len(self.y)
        r_l = np.exp(self.d * (-0.5 / ls_l**2))
        cov = c_l * r_l
        cov[nl:, :nl] *= rho
        cov[:nl, nl:] *= rho
        cov[nl:, nl:] *= rho * rho
        diag = np.full(n, s_l + _JITTER)
        parts = {"rho": rho, "c_l": c_l, "ls_l": ls_l, "s_l": s_l, "r_l": r_l}
        if delta is not None:
            c_d, ls_d, s_h = delta
            r_d = np.exp(self.d[nl:, nl:] * (-0.5 / ls_d**2))
            cov[nl:, nl:] += c_d * r_d
            diag[nl:] = s_h + _JITTER
            parts.update(c_d=c_d, ls_d=ls_d, s_h=s_h, r_d=r_d)
        cov.flat[:: n + 1] += diag
        return cov, parts

    def log_marginal_likelihood(self, theta=None, gradient: bool = False):
        """Log marginal likelihood of the standardized observations (and its gradient in ``theta``).

        Gradient: ``0.5 * sum(W * dK)`` with ``W = alpha alpha^T - K^-1``, summed
        per block (low-low, high-low, high-high) over the lower triangle only,
        so the scale ``rho`` enters as a factor per block.
        """
        theta = self.theta if theta is None else np.asarray(theta, dtype=np.float64)
        cov, p = self._joint_cov(theta)
        chol, info = lapack.dpotrf(cov, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("joint covariance is not positive definite")
        alpha, _ = lapack.dpotrs(chol, self.y, lower=1)
        n, nl = len(self.y), self.n_low
        value = -0.5 * self.y @ alpha - np.log(np.diag(chol)).sum() - 0.5 * n * np.log(2 * np.pi)
        if not gradient:
            return value
        inv, _ = lapack.dpotri(chol, lower=1, overwrite_c=1)  # lower triangle of K^-1
        g = np.outer(alpha, alpha)
        g -= inv
        g = np.tril(g)
        g.flat[:: n + 1] *= 0.5  # sum(W * M) = 2 sum(g * M) for symmetric M
        blocks = lambda a: (a[:nl, :nl].sum(), a[nl:, :nl].sum(), a[nl:, nl:].sum())  # noqa: E731
        rho, c_l, s_l = p["rho"], p["c_l"], p["s_l"]
        gr = g * p["r_l"]
        r_ll, r_hl, r_hh = blocks(gr)
        gr *= self.d
        q_ll, q_hl, q_hh = blocks(gr)
        tr_l, tr_h = np.trace(g[:nl, :nl]), np.trace(g[nl:, nl:])
        grad = [c_l * (r_ll + rho * r_hl + rho * rho * r_hh),
                c_l * (q_ll + rho * q_hl + rho * rho * q_hh) / p["ls_l"] ** 2,
                s_l * tr_l]
        if self.levels == 2:
            g_hh = g[nl:, nl:] * p["r_d"]
            c_d = p["c_d"]
            grad = [c_l * (r_hl + 2 * rho * r_hh)] + grad + [
                c_d * g_hh.sum(), c_d * (g_hh * self.d[nl:, nl:]).sum() / p["ls_d"] ** 2, p["s_h"] * tr_h]
        return value, np.array(grad)

    def _condition(self) -> None:
        cov, _ = self._joint_cov(self.theta)
        self.chol = np.linalg.cholesky(cov)
        self.alpha = cho_solve((self.chol, True), self.y, check_finite=False)

    # ---- prediction ------------------------------------------------------------
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
        k_l = lambda d: (c_l * np.exp(d * dtype(-0.5 / ls_l**2))).astype(dtype, copy=False)  # noqa: E731
        if self.levels == 1:
            return k_l(d_low)
        # cov(f_level, y_low) = rho^level k_l; cov(f_level, y_high) = rho^(level+1) k_l + level * k_d
        out = np.empty((d_low.shape[0], self.n_low + d_high.shape[1]), dtype=dtype)
        out[:, : self.n_low] = k_l(d_low) * dtype(rho**level)
        out[:, self.n_low:] = k_l(d_high) * dtype(rho ** (level + 1))
        if level == 1:
            c_d, ls_d, _ = delta
            out[:, self.n_low:] += c_d * np.exp(d_high * dtype(-0.5 / ls_d**2))
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
        """Standardized latent posterior variance from rows of :meth:`cross_cov`."""
        v = solve_triangular(self.chol, np.asarray(cross, dtype=np.float64).T, lower=True, check_finite=False)
        return np.maximum(self.prior_var(level) - (v * v).sum(0), 1e-12)

    def unstandardize(self, mean, var, level: int):
        """Mean and variance in the units of ``level``'s observations."""
        mu, sd = (self.mean_low, self.std_low) if level == 0 else (self.mean_high, self.std_high)
        return mean * sd + mu, var * sd**2

    def predict(self, x, level: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent ``f_low`` (``level=0``) or ``f_high`` (``level=1``)."""
        x = np.asarray(x, dtype=np.float64)
        cross = self.cross_cov(sqdist(x, self.x_low), sqdist(x, self.x_high), level)
        return self.unstandardize(cross @ self.alpha, self.variance_from_cross(cross, level), level)

    def _check_level(self, level: int) -> None:
        if level not in range(self.levels):
            raise ValueError(f"level must be in 0..{self.levels - 1}")
