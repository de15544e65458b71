"""Acquisition functions and exact best-candidate search over a finite pool of NB201 cells.

Model, acquisition and candidate selection stay apart (BoTorch's split): the
model is :class:`mfkdbench.mfkd.cokriging.CoKriging`, an acquisition maps posterior
mean and standard deviation to a score, and :class:`CandidatePool` finds the
best-scoring cell of the pool.

Both acquisitions grow with the standard deviation, and the posterior
deviation never exceeds the prior one, so ``acq(mean, prior_std)`` bounds
every cell's score. :meth:`CandidatePool.best` computes all posterior means
(cheap), then exact variances only in bound order until no remaining bound
can beat the best exact score: the same argmax as scoring every cell, at a
fraction of the cost.

Posterior means of all cells: with NB201's one-hot encoding (6 edges x 5
operations) the squared distance is twice the number of edges whose
operations differ, so the RBF kernel factorizes over edges,
``exp(-|x - x'|^2 / (2 l^2)) = prod_e (1 if same op else p)`` with
``p = exp(-1 / l^2)``. The mean of every cell of the 5^6 grid is then the
observations' weights smoothed by a 5x5 matrix along each of the 6 axes
(``6 * 5^6`` operations, exact in float64), independent of the number of
observations. Other encodings use squared distances to the observed cells,
cached per cell, and float32 products.
"""
from __future__ import annotations

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
        v = (1 - p) * v + p * v.sum(axis, keepdims=True)
    return v.reshape(-1)


def ucb(mean: np.ndarray, std: np.ndarray, best: float, beta: float = 1.0) -> np.ndarray:
    """Upper confidence bound ``mean + beta * std`` (MF-KD's acquisition, beta = 1)."""
    return mean + beta * std


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, beta: float = 1.0) -> np.ndarray:
    """Expected improvement over ``best`` (maximization)."""
    z = (mean - best) / std
    return (mean - best) * ndtr(z) + std * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


ACQUISITIONS = {"ucb": ucb, "ei": expected_improvement}


class CandidatePool:
    """The cells a search may propose and their encodings (plus, off the one-hot grid, cached distances)."""

    def __init__(self, indices: np.ndarray, encodings: np.ndarray):
        self.indices = np.asarray(indices, dtype=np.int64)
        self._x = np.asarray(encodings, dtype=np.float64)
        self._grid = grid_positions(self._x)
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
        if self._grid is None:
            d = self.sqdist(observed[0], model.x_low), self.sqdist(observed[1], model.x_high)
            cross = model.cross_cov(*d, level, dtype=np.float32)
            return (cross @ model.alpha.astype(np.float32)).astype(np.float64)
        at = grid_positions(np.vstack([model.x_low, model.x_high]))
        mean = np.zeros(_GRID)
        for scale, lengthscale, weights in model.mean_terms(level):
            mean += scale * _grid_smooth(np.bincount(at, weights, _GRID), lengthscale)
        return mean[self._grid]

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
        bound = acq(mean, np.full_like(mean, np.sqrt(model.prior_var(level))), best, beta)
        bound[~allowed] = -np.inf
        shuffle = np.arange(len(bound)) if rng is None else rng.permutation(len(bound))
        order = shuffle[np.argsort(-bound[shuffle], kind="stable")][: int(allowed.sum())]
        top_pos, top_score = None, -np.inf
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
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
        return cross @ model.alpha, model.variance_from_cross(cross, level)
