"""BANANAS (White et al., AAAI 2021): an ensemble of neural predictors on the path encoding.

Loop (NASLib's ``Bananas`` loop): ``num_init = 10`` random cells, then
rounds of: fit ``num_ensemble = 5`` MLPs on the path encodings
(:func:`mfkdbench.nb201.encodings.path_encoding`) of all finished cells; make
``num_candidates = 100`` candidates by one-edge mutations of the
``num_arches_to_mutate = 2`` best cells; queue the ``k = 10`` candidates with the
highest independent Thompson sample (ITS: one draw from ``N(mean, std)`` of
the ensemble's predictions per candidate). Every evaluation is at the target
fidelity.

Details for this simulator: failed (NaN) results are left out of training;
candidates exclude cells already proposed and cells outside a restricted
space (random unused cells stand in when no mutation is left, and ``ask``
returns ``None`` when the space is used up). With parallel workers the
predictor is fitted on the results in so far; until ``num_init`` of them are
in, further cells are random.

Differences from NASLib: the ensemble has 5 members (the BANANAS paper's
size; NASLib's default ``num_ensemble`` is 3), and each member is a small
MLP of 3 hidden layers of 20 units trained for 200 full-batch Adam steps
(NASLib's MLP predictor is larger and trained by mini-batch epochs), so the
predictions and therefore the proposals differ in detail.
"""
from __future__ import annotations

import numpy as np

from mfkdbench.nb201.encodings import path_encoding
from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import Optimizer, Trial, register
from mfkdbench.search.sampling import UnseenSampler


class MLPEnsemble:
    """ReLU MLPs from different random initialisations, trained together by full-batch Adam on absolute error.

    Written in numpy (about 40 lines) because the simulator must not import
    torch and scikit-learn's ``MLPRegressor`` has no absolute-error loss (the
    BANANAS predictor's) and is only a development dependency. The members'
    weights are stacked along a first axis so one matrix product serves all
    of them. Targets are standardised.
    """

    def __init__(self, n_members: int = 5, hidden: tuple[int, ...] = (20, 20, 20), steps: int = 200,
                 lr: float = 0.01):
        self.n_members, self.hidden, self.steps, self.lr = n_members, hidden, steps, lr
        self.params: list[np.ndarray] = []  # weights and biases of each layer, (members, ...) each
        self.mean, self.scale = 0.0, 1.0

    def fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> MLPEnsemble:
        self.mean, self.scale = float(np.mean(y)), float(np.std(y)) or 1.0
        target = ((y - self.mean) / self.scale)[None, :, None]
        sizes = (x.shape[1], *self.hidden, 1)
        shapes = [shape for m, n in zip(sizes[:-1], sizes[1:]) for shape in ((m, n), (1, n))]
        flat, grad = self._buffers(shapes), self._buffers(shapes)
        self.params, grads = flat[1], grad[1]
        for w, m in zip(self.params[::2], sizes):
            w[...] = rng.normal(0.0, np.sqrt(2.0 / m), w.shape)  # He initialisation; biases start at 0
        flat, grad = flat[0], grad[0]
        first, second = np.zeros_like(flat), np.zeros_like(flat)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, self.steps + 1):
            acts = self._forward(x)
            delta = np.sign(acts[-1] - target) / len(x)  # gradient of the mean absolute error
            for layer in range(len(self.params) // 2 - 1, -1, -1):
                grads[2 * layer][...] = np.swapaxes(acts[layer], -1, -2) @ delta
                grads[2 * layer + 1][...] = delta.sum(axis=1, keepdims=True)
                if layer:
                    delta = (delta @ np.swapaxes(self.params[2 * layer], -1, -2)) * (acts[layer] > 0)
            first += (1 - beta1) * (grad - first)
            second += (1 - beta2) * (grad * grad - second)
            flat -= self.lr * (first / (1 - beta1**step)) / (np.sqrt(second / (1 - beta2**step)) + eps)
        return self

    def _buffers(self, shapes) -> tuple[np.ndarray, list[np.ndarray]]:
        """One flat zero array and a ``(members, *shape)`` view into it per shape (one Adam update for all)."""
        sizes = [self.n_members * int(np.prod(shape)) for shape in shapes]
        flat = np.zeros(sum(sizes))
        ends = np.cumsum(sizes)
        return flat, [flat[end - size:end].reshape(self.n_members, *shape)
                      for end, size, shape in zip(ends, sizes, shapes)]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n_members, n)`` predictions in the units of ``y``."""
        return self._forward(x)[-1][:, :, 0] * self.scale + self.mean

    def _forward(self, x: np.ndarray) -> list[np.ndarray]:
        acts = [x]
        n_layers = len(self.params) // 2
        for layer in range(n_layers):
            z = acts[-1] @ self.params[2 * layer] + self.params[2 * layer + 1]
            acts.append(z if layer == n_layers - 1 else np.maximum(z, 0.0))
        return acts


def independent_thompson(predictions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ITS: one draw per candidate from a normal with the ensemble's mean and standard deviation."""
    return rng.normal(predictions.mean(axis=0), predictions.std(axis=0))


@register("bananas")
class Bananas(Optimizer):
    """BANANAS with path encoding, a numpy MLP ensemble, ITS and mutation candidates."""

    def __init__(self, space, fidelities, rng, *, num_init: int = 10, k: int = 10, num_ensemble: int = 5,
                 num_candidates: int = 100, num_arches_to_mutate: int = 2, train_steps: int = 200, **options):
        super().__init__(space, fidelities, rng, **options)
        values = (num_init, k, num_ensemble, num_candidates, num_arches_to_mutate, train_steps)
        if any(isinstance(v, bool) or int(v) != v or v < 1 for v in values):
            raise UserError(f"{self.name}: num_init, k, num_ensemble, num_candidates, num_arches_to_mutate "
                            "and train_steps must be positive integers")
        self.num_init, self.k, self.num_candidates, self.num_arches_to_mutate = map(
            int, (num_init, k, num_candidates, num_arches_to_mutate))
        self.ensemble = MLPEnsemble(int(num_ensemble), steps=int(train_steps))
        self.unseen = UnseenSampler(space)
        self._queue: list[int] = []
        self._indices: list[int] = []
        self._scores: list[float] = []

    def ask(self) -> tuple[int, str] | None:
        if not self._queue and len(self._scores) >= self.num_init:
            self._queue = self._next_batch()
        index = self._queue.pop(0) if self._queue else self.unseen.draw(self.rng)
        return None if index is None else (index, self.high)

    def tell(self, trial: Trial, score: float, cost: float) -> None:
        if not np.isnan(score):
            self._indices.append(trial.index)
            self._scores.append(score)

    def _next_batch(self) -> list[int]:
        """The ``k`` candidates with the highest ITS value, best first (marked as used)."""
        candidates = self._mutations()
        if not candidates:
            return []
        x = path_encoding(self.space, self._indices)
        self.ensemble.fit(x, np.array(self._scores), self.rng)
        values = independent_thompson(self.ensemble.predict(path_encoding(self.space, candidates)), self.rng)
        chosen = [candidates[i] for i in np.argsort(-values, kind="stable")[:self.k]]
        for index in chosen:
            self.unseen.mark(index)
        return chosen

    def _mutations(self) -> list[int]:
        """Up to ``num_candidates`` distinct unused one-edge mutations of the best cells."""
        best = np.argsort(-np.array(self._scores), kind="stable")[:self.num_arches_to_mutate]
        per_parent = self.num_candidates // len(best)
        out: dict[int, None] = {}
        for parent in best:
            neighbours = self.space.neighbours(self._indices[parent])
            if len(neighbours):
                for index in neighbours[self.rng.integers(len(neighbours), size=per_parent)]:
                    if not self.unseen.used[index]:
                        out[int(index)] = None
        return list(out)
