"""The zero-cost prior mean on held-out cells: which transform of the score, and against a third level.

Designs: 50 low (``ce12``) and 20 high (200-epoch validation) random cells, the high ones among the low ones,
300 held out; per dataset the RMSE and Spearman of the high-level posterior mean against the held-out cells'
200-epoch validation accuracy, averaged over ``--designs``, for the two-level model and the prior mean with
``params`` standardized, log-standardized and as normal scores of its ranks (the choice of ``mfkd-zc``).
``--third-level``: also emukit's three-level linear multi-fidelity model (GPy) with ``z`` as its lowest level,
observed at every design and held-out cell (one GPy fit: minutes).

    python bench/zc_prior_heldout.py [--designs 6] [--third-level]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import spearmanr

from mfkdbench.mfkd.cokriging import CoKriging
from mfkdbench.mfkd.searches import normal_scores
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.tables import load_tables

TRANSFORMS = {
    "two levels": None,
    "prior mean, z standardized": lambda z: (z - z.mean()) / z.std(),
    "prior mean, log z standardized": lambda z: (np.log(z) - np.log(z).mean()) / np.log(z).std(),
    "prior mean, normal scores of the ranks": normal_scores,
}


def _third_level(space, z, low, y_low, high, y_high, test) -> np.ndarray:
    import GPy
    from emukit.multi_fidelity.kernels import LinearMultiFidelityKernel
    from emukit.multi_fidelity.models import GPyLinearMultiFidelityModel

    cells = np.concatenate([low, test])
    std = lambda y: (y - y.mean()) / y.std()  # noqa: E731
    x = np.vstack([np.c_[space.onehot(cells), np.zeros(len(cells))], np.c_[space.onehot(low), np.ones(len(low))],
                   np.c_[space.onehot(high), np.full(len(high), 2.0)]])
    y = np.concatenate([z[cells], std(y_low), std(y_high)])[:, None]
    gp = GPyLinearMultiFidelityModel(x, y, LinearMultiFidelityKernel([GPy.kern.RBF(30) for _ in range(3)]),
                                     n_fidelities=3)
    gp.optimize()
    return gp.predict_noiseless(np.c_[space.onehot(test), np.full(len(test), 2.0)])[0][:, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=6)
    parser.add_argument("--third-level", action="store_true")
    args = parser.parse_args()
    tables = load_tables(None)
    space = SearchSpace(tables.index_codes)
    for dataset in ("cifar100", "imagenet16-120"):
        low_f, high_f, params = (tables.get(dataset, c) for c in ("val_acc_12", "val_acc_200", "params_mb"))
        results: dict[str, list] = {}
        for design in range(args.designs):
            idx = np.random.default_rng(design).choice(len(params), 350, replace=False)
            low, high, test = idx[:50], idx[:20], idx[50:]
            for label, transform in TRANSFORMS.items():
                z = None if transform is None else transform(params)
                prior = {} if z is None else {"prior_low": z[low], "prior_high": z[high]}
                model = CoKriging(rng=np.random.default_rng(0)).fit(space.onehot(low), low_f[low], space.onehot(high),
                                                                    high_f[high], **prior)
                mean = model.predict(space.onehot(test), 1, None if z is None else z[test])[0]
                results.setdefault(label, []).append(
                    (np.sqrt(np.mean((mean - high_f[test]) ** 2)), spearmanr(mean, high_f[test])[0]))
            if args.third_level:
                start = time.perf_counter()
                mean = _third_level(space, normal_scores(params), low, low_f[low], high, high_f[high], test)
                label = f"third level (emukit), design {design}: fit {time.perf_counter() - start:.0f} s"
                results[label] = [(np.sqrt(np.mean((mean - high_f[test]) ** 2)), spearmanr(mean, high_f[test])[0])]
        for label, values in results.items():
            rmse, rho = np.mean(values, axis=0)
            print(f"{dataset} | {label} | RMSE {rmse:.2f} | Spearman {rho:.3f} ({len(values)} designs)")


if __name__ == "__main__":
    main()
