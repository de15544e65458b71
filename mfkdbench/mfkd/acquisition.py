"""Acquisition functions and exact best-candidate search over a finite pool of NB201 cells.

Model, acquisition and candidate selection stay apart (BoTorch's split): the
model is :class:`mfkdbench.mfkd.cokriging.CoKriging`, an acquisition maps posterior
mean and standard deviation to a score, and :class:`CandidatePool` finds the
best-scoring cell of the pool.

Both acquisitions grow with the standard deviation, and the posterior
variance never exceeds the variance given the cell's nearest low or nearest
high observation alone (:meth:`CoKriging.variance_bound`), so ``acq(mean,
that deviation)`` bounds every cell's score. :meth:`CandidatePool.best`
computes all posterior means and bounds (cheap), then exact variances only in
bound order until no remaining bound can beat the best exact score: the same
argmax as scoring every cell. (With the prior deviation as the bound, a search
at 200 to 300 observations needed exact variances for about 10,000 of the
15,625 cells; with the nearest-observation bound, 500 to 1,000.)

Posterior means of all cells: with NB201's one-hot encoding (6 edges x 5
operations) the squared distance is twice the number of edges whose
operations differ, so the RBF kernel factorizes over edges,
``exp(-|x - x'|^2 / (2 l^2)) = prod_e (1 if same op else p)`` with
``p = exp(-1 / l^2)``. The mean of every cell of the 5^6 grid is then the
observations' weights smoothed by a 5x5 matrix along each of the 6 axes
(``6 * 5^6`` operations, exact in float64), independent of the number of
observations. The nearest observation of every grid cell is a Hamming
distance transform (one pass per edge). Other encodings use squared distances
to the observed cells, cached per cell, and float32 products.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.special import ndtr

from mfkdbench.mfkd.cokriging import CoKriging, sqdist

_EDGES, _OPS = 6, 5
_GRID = _OPS**_EDGES


def grid_positions(encodings: np.ndarray) -> np.ndarray | None:
    """Positions in the 5^6 grid (edge 0 most significant) of NB201 one-hot encodings, else None."""
    x = np.asarray(encodings)
    if x.ndim != 2 or x.shape[1] != _EDGES * _OPS or not np.isin(x, (0, 1)).all():
        return None
    blocks = x.reshape(len(x), _EDGES, _OPS)
    if not (blocks.sum(2) == 1).all():
        return None
    return blocks.argmax(2) @ (_OPS ** np.arange(_EDGES - 1, -1, -1))


def _grid_smooth(weights: np.ndarray, lengthscale: float) -> np.ndarray:
    """``sum_j weights_j exp(-|x - x_j|^2 / (2 l^2))`` at every grid cell ``x`` (``weights`` on the grid)."""
    p = np.exp(-1.0 / lengthscale**2)  # one differing edge: squared distance 2
    v = weights.reshape((_OPS,) * _EDGES)
    for axis in range(_EDGES):
        total = v.sum(axis, keepdims=True)
        total *= p
        v *= 1 - p
        v += total
    return v.reshape(-1)


#: squared one-hot distance per Hamming distance; 7: no observation
_HAMMING_SQDIST = np.array([2.0 * h for h in range(_EDGES + 1)] + [np.inf])


def _nearest_on_grid(at: np.ndarray) -> np.ndarray:
    """Squared one-hot distance from every grid cell to the nearest of the grid cells ``at`` (``inf``: none).

    Hamming distance transform: changing edge ``e`` costs 1, so one pass per
    edge of ``min(h, min over edge e's 5 operations + 1)`` is exact (the min
    over the 5 slices: half the time of numpy's reduction over that axis).
    """
    h = np.full(_GRID, _EDGES + 1, dtype=np.uint8)
    h[at] = 0
    for axis in range(_EDGES):
        v = h.reshape(_OPS**axis, _OPS, -1)
        changed = functools.reduce(np.minimum, (v[:, op] for op in range(_OPS))) + 1
        np.minimum(v, changed[:, None], out=v)
    return _HAMMING_SQDIST[h]


def _smallest_first(keys: np.ndarray, size: int) -> np.ndarray:
    """Positions of the ``size`` smallest ``keys`` and any tied with them: a prefix of the stable argsort."""
    top = np.flatnonzero(keys <= np.partition(keys, size - 1)[size - 1]) if size < len(keys) else np.arange(len(keys))
    return top[np.argsort(keys[top], kind="stable")]


def ucb(mean: np.ndarray, std: np.ndarray, best: float, beta: float = 1.0) -> np.ndarray:
    """Upper confidence bound ``mean + beta * std`` (MF-KD's acquisition, beta = 1)."""
    return mean + beta * std


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, beta: float = 1.0) -> np.ndarray:
    """Expected improvement over ``best`` (maximization)."""
    z = (mean - best) / std
    return (mean - best) * ndtr(z) + std * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


ACQUISITIONS = {"ucb": ucb, "ei": expected_improvement}


class CandidatePool:
    """The cells a search may propose and their encodings (plus, off the one-hot grid, cached distances);
    ``prior``: their zero-cost scores, for a model fitted with a zero-cost prior mean."""

    def __init__(self, indices: np.ndarray, encodings: np.ndarray, prior: np.ndarray | None = None):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.prior = None if prior is None else np.asarray(prior, dtype=np.float64)
        self._x = np.asarray(encodings, dtype=np.float64)
        self._grid = grid_positions(self._x)
        if self._grid is not None:  # the grid position of every NB201 index in the pool (-1: not in it)
            self._grid_of = np.full(int(self.indices.max(initial=-1)) + 1, -1, dtype=np.int64)
            self._grid_of[self.indices] = self._grid
        self._norm = (self._x * self._x).sum(1)
        self._columns: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.indices)

    def _column(self, index: int, encoding: np.ndarray) -> np.ndarray:
        col = self._columns.get(index)
        if col is None:
            col = np.maximum(self._norm + encoding @ encoding - 2.0 * self._x @ encoding, 0.0).astype(np.float32)
            self._columns[index] = col
        return col

    def sqdist(self, indices, encodings: np.ndarray) -> np.ndarray:
        """``(len(pool), len(indices))`` float32 squared distances to the cells ``indices`` (cached per cell)."""
        out = np.empty((len(self), len(indices)), dtype=np.float32, order="F")
        for j, (i, e) in enumerate(zip(indices, encodings)):
            out[:, j] = self._column(int(i), e)
        return out

    def means(self, model: CoKriging, level: int, observed) -> np.ndarray:
        """Standardized posterior means of every cell; ``observed``: the model's (low, high) NB201 indices."""
        mean = self._kernel_means(model, level, observed)
        if model.prior is not None:
            mean += model.prior_weight(level) * self.prior
        return mean

    def _kernel_means(self, model: CoKriging, level: int, observed) -> np.ndarray:
        """The posterior means less the prior mean: the kernel expansion over the observations."""
        if self._grid is None:
            d = self.sqdist(observed[0], model.x_low), self.sqdist(observed[1], model.x_high)
            cross = model.cross_cov(*d, level, dtype=np.float32)
            return (cross @ model.alpha.astype(np.float32)).astype(np.float64)
        at = np.concatenate([self._positions(observed[0], model.x_low), self._positions(observed[1], model.x_high)])
        mean = np.zeros(_GRID)
        for scale, lengthscale, weights in model.mean_terms(level):
            mean += scale * _grid_smooth(np.bincount(at, weights, _GRID), lengthscale)
        return mean[self._grid]

    def nearest(self, model: CoKriging, observed) -> tuple[np.ndarray, np.ndarray]:
        """Squared distance from every cell to its nearest low and its nearest high observation (``inf``: none)."""
        if self._grid is None:
            return tuple(self.sqdist(idx, x).min(1, initial=np.inf).astype(np.float64)
                         for idx, x in zip(observed, (model.x_low, model.x_high)))
        return tuple(_nearest_on_grid(self._positions(idx, x))[self._grid]
                     for idx, x in zip(observed, (model.x_low, model.x_high)))

    def _positions(self, indices, encodings: np.ndarray) -> np.ndarray:
        """Grid positions of observed cells: by NB201 index, or from the encodings for cells outside the pool."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.max() >= len(self._grid_of) or indices.min() < 0):
            return grid_positions(encodings)
        at = self._grid_of[indices]
        return grid_positions(encodings) if (at < 0).any() else at

    def variances(self, model: CoKriging, level: int, rows: np.ndarray) -> np.ndarray:
        """Standardized posterior variances of the pool's ``rows`` (float64)."""
        x = self._x[rows]
        return model.variance_from_cross(model.cross_cov(sqdist(x, model.x_low), sqdist(x, model.x_high), level),
                                         level)

    def best(self, model: CoKriging, level: int, allowed: np.ndarray, observed, acquisition: str = "ucb",
             best: float = 0.0, beta: float = 1.0, chunk: int = 256, rng: np.random.Generator | None = None,
             sign: float = 1.0):
        """``(position in the pool, score)`` of the allowed cell with the highest acquisition, or None.

        Scores are in the model's standardized units of ``level`` (``best``
        too), of ``sign * f_level`` (``sign=-1``: a low value is promising).
        ``observed``: the NB201 indices of the model's low and high
        observations, in the model's order. ``rng``: exact ties go to a
        random one of the tied cells (else the first in pool order).
        """
        acq = ACQUISITIONS[acquisition]
        mean = sign * self.means(model, level, observed)
        bound = acq(mean, np.sqrt(model.variance_bound(*self.nearest(model, observed), level)), best, beta)
        bound[~allowed] = -np.inf
        shuffle = np.arange(len(bound)) if rng is None else rng.permutation(len(bound))
        keys, n_allowed = -bound[shuffle], int(allowed.sum())
        order = np.zeros(0, dtype=np.intp)  # the cells by decreasing bound, ties in shuffle order; sorted as needed
        top_pos, top_score = None, -np.inf
        for start in range(0, n_allowed, chunk):
            if len(order) < min(start + chunk, n_allowed):
                order = shuffle[_smallest_first(keys, min(4 * (start + chunk), n_allowed))]
            rows = order[start:min(start + chunk, n_allowed)]
            if bound[rows[0]] <= top_score:
                break
            scores = acq(mean[rows], np.sqrt(self.variances(model, level, rows)), best, beta)
            j = int(np.argmax(scores))
            if scores[j] > top_score:
                top_pos, top_score = int(rows[j]), float(scores[j])
        return None if top_pos is None else (top_pos, top_score)

    def posterior(self, model: CoKriging, level: int):
        """Standardized posterior mean and variance of every cell, straight from the model (float64)."""
        cross = model.cross_cov(sqdist(self._x, model.x_low), sqdist(self._x, model.x_high), level)
        mean = cross @ model.alpha
        if model.prior is not None:
            mean += model.prior_weight(level) * self.prior
        return mean, model.variance_from_cross(cross, level)
