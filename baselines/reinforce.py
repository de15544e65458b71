"""REINFORCE over per-edge operation logits (Williams 1992), as run on NB201 / NATS-Bench.

Follows NATS-Bench's ``exps/NATS-algos/reinforce.py`` (AutoDL-Projects): a
``6 x 5`` logit table initialised with ``1e-3 * N(0, 1)``, one categorical
draw per edge, Adam with learning rate 0.01 (NATS-Bench's ``run-all.sh``;
NB201's ICLR 2020 script ``REINFORCE.sh`` used 0.001), and an exponential
moving average of the reward (momentum 0.9), updated with the new reward before
the advantage ``reward - baseline`` is formed. Hand-written in numpy (a few
lines of softmax and Adam) because the simulator side must not import torch.
"""
from __future__ import annotations

import math

import numpy as np

from mfkdbench.search.optimizer import Optimizer, Range, register
from mfkdbench.nb201.space import N_EDGES, N_OPS, ops_to_codes


@register("reinforce")
class Reinforce(Optimizer):
    """Policy-gradient search; the reward is the search score (accuracy in percent).

    On a restricted space (``cifar100-kd240``, a store's cells) the policy is the per-edge one conditioned on
    the candidates: a cell is drawn with probability proportional to its product of edge probabilities, and
    the gradient of its log-probability subtracts the conditioned distribution's per-edge marginals instead of
    the edge probabilities. (Drawing until a candidate came up, then uniformly, ignored the policy exactly when
    it had learnt something: once it favoured cells outside the space.)
    """

    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"learning_rate": 0.5, "ema_momentum": 0.1}
    option_ranges = {"learning_rate": Range(0, low_open=True), "ema_momentum": Range(0, 1, high_open=True)}

    def __init__(self, space, fidelities, rng, learning_rate: float = 0.01, ema_momentum: float = 0.9,
                 **options):
        super().__init__(space, fidelities, rng, **options)
        self.learning_rate, self.momentum = float(learning_rate), float(ema_momentum)
        self.logits = 1e-3 * rng.standard_normal((N_EDGES, N_OPS))
        self._m = np.zeros_like(self.logits)
        self._v = np.zeros_like(self.logits)
        self._steps = 0
        self._ema_num = self._ema_den = 0.0

    def probabilities(self) -> np.ndarray:
        z = np.exp(self.logits - self.logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def candidate_probabilities(self) -> np.ndarray:
        """Probability of each candidate (``space.candidates`` order) under the policy conditioned on the space."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        cell = log_p[np.arange(N_EDGES), self.space.candidate_ops].sum(axis=1)
        p = np.exp(cell - cell.max())
        return p / p.sum()

    def ask(self):
        if self.space.restricted:
            cdf = np.cumsum(self.candidate_probabilities())
            pick = min(int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), len(cdf) - 1)
            return int(self.space.candidates[pick]), self.high
        cdf = np.cumsum(self.probabilities(), axis=1)
        ops = (self.rng.random((N_EDGES, 1)) > cdf).sum(axis=1).clip(max=N_OPS - 1)
        return int(self.space.code_index[ops_to_codes(ops[None])[0]]), self.high

    def tell(self, trial, score, cost):
        if math.isnan(score):
            return
        self._ema_num = self.momentum * self._ema_num + (1 - self.momentum) * score
        self._ema_den = self.momentum * self._ema_den + (1 - self.momentum)
        advantage = score - self._ema_num / self._ema_den
        ops = self.space.ops([trial.index])[0]
        # gradient of the loss -log p(ops) * advantage with respect to the logits
        grad = (self.marginals() - np.eye(N_OPS)[ops]) * advantage
        self._adam(grad)

    def marginals(self) -> np.ndarray:
        """``(6, 5)`` probability of each op on each edge under the policy (conditioned on a restricted space)."""
        if not self.space.restricted:
            return self.probabilities()
        p = self.candidate_probabilities()
        out = np.zeros((N_EDGES, N_OPS))
        for edge in range(N_EDGES):
            out[edge] = np.bincount(self.space.candidate_ops[:, edge], weights=p, minlength=N_OPS)
        return out

    def _adam(self, grad: np.ndarray, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        """One Adam step with torch's defaults."""
        self._steps += 1
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad**2
        m_hat = self._m / (1 - beta1**self._steps)
        v_hat = self._v / (1 - beta2**self._steps)
        self.logits -= self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
