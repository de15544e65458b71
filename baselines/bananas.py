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
from mfkdbench.search.blas import single_threaded_blas
from mfkdbench.search.optimizer import Optimizer, Range, Trial, register
from mfkdbench.search.sampling import UnseenSampler


class MLPEnsemble:
    """ReLU MLPs from different random initialisations, trained together by full-batch Adam on absolute error.

    Written in numpy (about 75 lines) because the simulator must not import
    torch and scikit-learn's ``MLPRegressor`` has no absolute-error loss (the
    BANANAS predictor's) and is only a development dependency. The members'
    weights are stacked along a first axis so one matrix product serves all
    of them. Targets are standardised. Training works in place, in buffers
    allocated once per fit, by the same floating-point operations in the same
    order as the plain expressions in the comments, so it gives their numbers
    bit for bit (the tests check this against those expressions).
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
        # Inputs that are 0 in every row give their first-layer weights zero gradients, which Adam turns
        # into zero steps: only the other ("live") inputs' weights are trained, in ``flat``, and copied
        # into the whole first layer after each step. (Their gradient, the live rows of x^T @ delta, comes
        # from the live columns of x: matmul's value of a row does not depend on the other rows.)
        live = np.flatnonzero(x.any(axis=0))
        shapes = [shape for m, n in zip((len(live), *sizes[1:-1]), sizes[1:]) for shape in ((m, n), (1, n))]
        flat, trained = self._buffers(shapes)
        grad, grads = self._buffers(shapes)
        self.params = [np.empty((self.n_members, sizes[0], sizes[1])), *trained[1:]]
        for w, m in zip(self.params[::2], sizes):
            w[...] = rng.normal(0.0, np.sqrt(2.0 / m), w.shape)  # He initialisation; biases start at 0
        first_layer, live_weights = self.params[0], trained[0]
        live_weights[...] = first_layer[:, live]
        acts = [x, *self._activations(len(x))]
        deltas = [np.empty_like(a) for a in acts[1:]]  # gradients of the loss w.r.t. the layers' outputs
        masks = [np.empty(a.shape, dtype=bool) for a in acts[1:-1]]
        inputs_t = [np.swapaxes(a, -1, -2) for a in (np.ascontiguousarray(x[:, live]), *acts[1:-1])]
        weights_t = [np.swapaxes(w, -1, -2) for w in self.params[::2]]
        top = len(sizes) - 2  # the output layer
        # the output layer has one unit, so its delta @ w^T is an outer product: multiply rounds it as matmul does
        send_down = [np.multiply if layer == top else np.matmul for layer in range(top + 1)]
        first, second, step_size, denom = (np.zeros_like(flat) for _ in range(4))
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, self.steps + 1):
            self._forward(acts)
            for a, mask in zip(acts[1:-1], masks):
                np.greater(a, 0, out=mask)
            # delta = sign(prediction - target) / n, the gradient of the mean absolute error; then per layer
            # grad_w = input^T @ delta, grad_b = delta.sum(axis=1), delta = (delta @ w^T) * (input > 0)
            np.subtract(acts[-1], target, out=deltas[top])
            np.sign(deltas[top], out=deltas[top])
            deltas[top] /= len(x)
            for layer in range(top, -1, -1):
                np.matmul(inputs_t[layer], deltas[layer], out=grads[2 * layer])
                np.add.reduce(deltas[layer], axis=1, keepdims=True, out=grads[2 * layer + 1])
                if layer:
                    send_down[layer](deltas[layer], weights_t[layer], out=deltas[layer - 1])
                    deltas[layer - 1] *= masks[layer - 1]
            # first += (1 - beta1) * (grad - first); second += (1 - beta2) * (grad * grad - second)
            np.subtract(grad, first, out=step_size)
            step_size *= 1 - beta1
            first += step_size
            np.multiply(grad, grad, out=denom)
            denom -= second
            denom *= 1 - beta2
            second += denom
            # flat -= lr * (first / (1 - beta1**step)) / (sqrt(second / (1 - beta2**step)) + eps)
            np.divide(first, 1 - beta1**step, out=step_size)
            step_size *= self.lr
            np.divide(second, 1 - beta2**step, out=denom)
            np.sqrt(denom, out=denom)
            denom += eps
            step_size /= denom
            flat -= step_size
            first_layer[:, live] = live_weights
        return self

    def _buffers(self, shapes) -> tuple[np.ndarray, list[np.ndarray]]:
        """One flat zero array and a ``(members, *shape)`` view into it per shape (one Adam update for all)."""
        sizes = [self.n_members * int(np.prod(shape)) for shape in shapes]
        flat = np.zeros(sum(sizes))
        ends = np.cumsum(sizes)
        return flat, [flat[end - size:end].reshape(self.n_members, *shape)
                      for end, size, shape in zip(ends, sizes, shapes)]

    def _activations(self, n: int) -> list[np.ndarray]:
        """Buffers for the outputs of each layer on ``n`` inputs, ``(members, n, width)`` each."""
        return [np.empty((self.n_members, n, w.shape[-1])) for w in self.params[::2]]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n_members, n)`` predictions in the units of ``y``."""
        acts = [x, *self._activations(len(x))]
        return self._forward(acts)[-1][:, :, 0] * self.scale + self.mean

    def _forward(self, acts: list[np.ndarray]) -> list[np.ndarray]:
        """Fill ``acts[1:]`` from the input ``acts[0]``: ReLU layers, a linear last one."""
        for layer, (a, z) in enumerate(zip(acts[:-1], acts[1:])):
            np.matmul(a, self.params[2 * layer], out=z)
            z += self.params[2 * layer + 1]
            if layer < len(acts) - 2:
                np.maximum(z, 0.0, out=z)
        return acts


def independent_thompson(predictions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ITS: one draw per candidate from a normal with the ensemble's mean and standard deviation."""
    return rng.normal(predictions.mean(axis=0), predictions.std(axis=0))


@register("bananas")
class Bananas(Optimizer):
    """BANANAS with path encoding, a numpy MLP ensemble, ITS and mutation candidates."""

    #: non-default values of every option, each changing the search (tests/search/test_options.py)
    option_probes = {"num_init": 5, "k": 3, "num_ensemble": 2, "num_candidates": 20, "num_arches_to_mutate": 5,
                     "train_steps": 50}
    option_ranges = {name: Range(1, integer=True) for name in option_probes}

    def __init__(self, space, fidelities, rng, *, num_init: int = 10, k: int = 10, num_ensemble: int = 5,
                 num_candidates: int = 100, num_arches_to_mutate: int = 2, train_steps: int = 200, **options):
        super().__init__(space, fidelities, rng, **options)
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
        with single_threaded_blas():  # the same numbers on every machine (mfkdbench.search.blas)
            self.ensemble.fit(x, np.array(self._scores), self.rng)
            predictions = self.ensemble.predict(path_encoding(self.space, candidates))
        values = independent_thompson(predictions, self.rng)
        chosen = [candidates[i] for i in np.argsort(-values, kind="stable")[:self.k]]
        for index in chosen:
            self.unseen.mark(index)
        return chosen

    def _mutations(self) -> list[int]:
        """Up to ``num_candidates`` distinct unused one-edge mutations of the best cells (on a restricted space,
        ``SearchSpace.neighbourhood``: a mutation outside it becomes the candidates nearest to it)."""
        best = np.argsort(-np.array(self._scores), kind="stable")[:self.num_arches_to_mutate]
        per_parent = self.num_candidates // len(best)
        out: dict[int, None] = {}
        for parent in best:
            neighbours = self.space.neighbourhood(self._indices[parent])
            if len(neighbours):
                for index in neighbours[self.rng.integers(len(neighbours), size=per_parent)]:
                    if not self.unseen.used[index]:
                        out[int(index)] = None
        return list(out)
