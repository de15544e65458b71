"""Acquisition functions and exact best-candidate search over a finite pool of NB201 cells.

Model, acquisition and candidate selection stay apart (BoTorch's split): the
model is :class:`mfkdbench.cokriging.CoKriging`, an acquisition maps posterior
mean and standard deviation to a score, and :class:`CandidatePool` finds the
best-scoring cell of the pool.

Both acquisitions grow with the standard deviation, and the posterior
deviation never exceeds the prior one, so ``acq(mean, prior_std)`` bounds
every cell's score. :meth:`CandidatePool.best` computes all posterior means
(cheap), then exact variances only in bound order until no remaining bound
can beat the best exact score: the same argmax as scoring every cell, at a
fraction of the cost. Squared distances from the pool to observed cells are
cached per cell, and the pool-wide products run in float32.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .cokriging import CoKriging


def ucb(mean: np.ndarray, std: np.ndarray, best: float, beta: float = 1.0) -> np.ndarray:
    """Upper confidence bound ``mean + beta * std`` (MF-KD's acquisition, beta = 1)."""
    return mean + beta * std


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, beta: float = 1.0) -> np.ndarray:
    """Expected improvement over ``best`` (maximization)."""
    z = (mean - best) / std
    return (mean - best) * ndtr(z) + std * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


ACQUISITIONS = {"ucb": ucb, "ei": expected_improvement}


class CandidatePool:
    """The cells a search may propose, their encodings and cached distances to observed cells."""

    def __init__(self, indices: np.ndarray, encodings: np.ndarray):
        self.indices = np.asarray(indices, dtype=np.int64)
        self._x = np.asarray(encodings, dtype=np.float64)
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
        """``(len(pool), len(indices))`` float32 squared distances to the cells ``indices``."""
        out = np.empty((len(self), len(indices)), dtype=np.float32, order="F")
        for j, (i, e) in enumerate(zip(indices, encodings)):
            out[:, j] = self._column(int(i), e)
        return out

    def best(self, model: CoKriging, level: int, d_low: np.ndarray, d_high: np.ndarray, allowed: np.ndarray,
             acquisition: str = "ucb", best: float = 0.0, beta: float = 1.0, chunk: int = 256):
        """``(position in the pool, score)`` of the allowed cell with the highest acquisition, or None.

        Scores are in the model's standardized units of ``level`` (``best``
        too). ``d_low`` / ``d_high``: :meth:`sqdist` to the model's low / high
        observations, in the model's order.
        """
        acq = ACQUISITIONS[acquisition]
        cross = model.cross_cov(d_low, d_high, level, dtype=np.float32)
        mean = (cross @ model.alpha.astype(np.float32)).astype(np.float64)
        bound = acq(mean, np.full_like(mean, np.sqrt(model.prior_var(level))), best, beta)
        bound[~allowed] = -np.inf
        order = np.argsort(-bound, kind="stable")[: int(allowed.sum())]
        top_pos, top_score = None, -np.inf
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            if bound[rows[0]] <= top_score:
                break
            std = np.sqrt(model.variance_from_cross(cross[rows], level))
            scores = acq(mean[rows], std, best, beta)
            j = int(np.argmax(scores))
            if scores[j] > top_score:
                top_pos, top_score = int(rows[j]), float(scores[j])
        return None if top_pos is None else (top_pos, top_score)

    def posterior(self, model: CoKriging, level: int, d_low: np.ndarray, d_high: np.ndarray):
        """Standardized posterior mean and variance of every cell of the pool (float64)."""
        cross = model.cross_cov(d_low.astype(np.float64), d_high.astype(np.float64), level)
        return cross @ model.alpha, model.variance_from_cross(cross, level)
