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

from mfkdbench.search.optimizer import Optimizer, register
from mfkdbench.nb201.space import N_EDGES, N_OPS, ops_to_codes


@register("reinforce")
class Reinforce(Optimizer):
    """Policy-gradient search; the reward is the search score (accuracy in percent)."""

    #: resampling attempts for a cell outside a restricted search space before drawing uniformly
    MAX_DRAWS = 100

    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"learning_rate": 0.5, "ema_momentum": 0.1}

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

    def ask(self):
        cdf = np.cumsum(self.probabilities(), axis=1)
        for _ in range(self.MAX_DRAWS):
            ops = (self.rng.random((N_EDGES, 1)) > cdf).sum(axis=1).clip(max=N_OPS - 1)
            index = int(self.space.code_index[ops_to_codes(ops[None])[0]])
            if index in self.space:
                return index, self.high
        return int(self.space.sample(self.rng)), self.high

    def tell(self, trial, score, cost):
        if math.isnan(score):
            return
        self._ema_num = self.momentum * self._ema_num + (1 - self.momentum) * score
        self._ema_den = self.momentum * self._ema_den + (1 - self.momentum)
        advantage = score - self._ema_num / self._ema_den
        ops = self.space.ops([trial.index])[0]
        # gradient of the loss -log p(ops) * advantage with respect to the logits
        grad = (self.probabilities() - np.eye(N_OPS)[ops]) * advantage
        self._adam(grad)

    def _adam(self, grad: np.ndarray, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        """One Adam step with torch's defaults."""
        self._steps += 1
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad**2
        m_hat = self._m / (1 - beta1**self._steps)
        v_hat = self._v / (1 - beta2**self._steps)
        self.logits -= self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
