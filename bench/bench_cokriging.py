"""Time of one MF-KD iteration against the number of observations, and emukit's time on the same data.

One iteration = refit of the co-kriging hyperparameters warm-started from the
previous fit (one new observation; also timed with L-BFGS-B's default
tolerance) + the UCB argmax over all 15,625 CIFAR-100 cells
(:meth:`CandidatePool.best`). A search adds the default and 3 random starts
to every 10th fit (``restart_every``), each of 8 L-BFGS-B iterations
(``explore_maxiter``), and polishes the best of them: the "multi-start"
column times such a fit (and the argmax), "mean" is the iteration averaged
over that schedule (9 warm iterations and one multi-start). Observations:
real NB201 CIFAR-100 cells, two thirds at the 12-epoch CE low fidelity, one
third at 200 epochs. Reference: emukit's linear multi-fidelity model (GPy) on
the same data, warm-started from our hyperparameters (its optimizer, 50
iterations at most), then predicting the high level at all 15,625 cells. Targets (warm iteration and mean): < 15 ms at
200 and < 50 ms at 500 observations (2-core machine).

    python bench/bench_cokriging.py [--sizes 50 100 200 500] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mfkdbench.mfkd.acquisition import CandidatePool
from mfkdbench import load_benchmark
from mfkdbench.mfkd.cokriging import CoKriging
from mfkdbench.search.blas import single_threaded_blas


def _data(bench, n, rng):
    idx = rng.choice(15625, n + 1, replace=False)
    n_high = n // 3
    return idx[n_high:], idx[:n_high]  # low (with one extra cell to add), high


def ours(bench, pool, low, high, repeats, **model_options):
    x = bench.space.onehot
    y_low, y_high = bench._scores["ce12"], bench._scores["200"]
    model = CoKriging(rng=np.random.default_rng(0), **model_options)
    with single_threaded_blas():
        model.fit(x(low[:-1]), y_low[low[:-1]], x(high), y_high[high])  # the previous step's fit
    allowed = np.ones(len(pool), bool)
    allowed[high] = False
    times, multistart = [], []
    theta = model.theta.copy()
    for _ in range(repeats):
        for fit, out in ((0, times), (model.restart_every - 1, multistart)):  # a warm fit, then a scheduled multi-start
            model.theta, model.n_fits, model._bounds_at_multistart = theta.copy(), fit, frozenset(range(len(theta)))
            start = time.perf_counter()
            with single_threaded_blas():
                model.fit(x(low), y_low[low], x(high), y_high[high])
                pool.best(model, 1, allowed, (low, high), rng=model.rng)
            out.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.median(multistart)), model


def reference(bench, model, low, high):
    import GPy
    from emukit.multi_fidelity.kernels import LinearMultiFidelityKernel
    from emukit.multi_fidelity.models import GPyLinearMultiFidelityModel

    x = bench.space.onehot
    rho, c_l, ls_l, s_l, c_d, ls_d, s_h = model.theta[0], *np.exp(model.theta[1:])
    xs = np.vstack([np.c_[x(low), np.zeros(len(low))], np.c_[x(high), np.ones(len(high))]])
    start = time.perf_counter()
    kern = LinearMultiFidelityKernel([GPy.kern.RBF(30, c_l, ls_l), GPy.kern.RBF(30, c_d, ls_d)])
    gp = GPyLinearMultiFidelityModel(xs, model.y[:, None], kern, n_fidelities=2)
    gp.mixed_noise.Gaussian_noise.variance = s_l
    gp.mixed_noise.Gaussian_noise_1.variance = s_h
    gp.multifidelity.scale = rho
    gp.optimize(max_iters=50)
    gp.predict_noiseless(np.c_[x(np.arange(15625)), np.ones(15625)])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 500])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    bench = load_benchmark("cifar100")
    pool = CandidatePool(np.arange(15625), bench.space.onehot(np.arange(15625)))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("warm: warm start to ftol 1e-6 (the default); tight: L-BFGS-B's default ftol 2.2e-9; "
          "multi-start: a scheduled fit with the default and 3 random starts, the best polished; "
          "mean: over the 1-in-10 schedule")
    print(f"{'n obs':>6} {'warm ms':>9} {'target ms':>10} {'tight ms':>9} {'multi-start ms':>15} {'mean ms':>8} "
          f"{'emukit ms':>10} {'emukit/warm':>12}")
    for n in args.sizes:
        low, high = _data(bench, n, np.random.default_rng(n))
        t, multi, model = ours(bench, pool, low, high, args.repeats)
        tight = ours(bench, pool, low, high, args.repeats, warm_ftol=2.220446049250313e-09)[0]
        mean = (9 * t + multi) / 10
        row = (f"{n:>6} {t * 1e3:>9.1f} {({200: '15', 500: '50'}.get(n, '-')):>10} {tight * 1e3:>9.1f} "
               f"{multi * 1e3:>15.1f} {mean * 1e3:>8.1f}")
        if args.no_reference:
            print(row)
            continue
        r = reference(bench, model, low, high)
        print(f"{row} {r * 1e3:>10.0f} {r / t:>12.1f}")


if __name__ == "__main__":
    main()
