"""Time of one MF-KD iteration against the number of observations, and emukit's time on the same data.

An iteration is a fit of the co-kriging model with one new observation plus
the UCB argmax over all 15,625 CIFAR-100 cells (:meth:`CandidatePool.best`).
A search's fits are of three kinds (:meth:`CoKriging._optimize`): "condition"
(the last hyperparameters, new observations), "warm" (hyperparameters refitted
from the last optimum, once the observations grew by ``refit_growth``; also
timed to L-BFGS-B's default tolerance, "tight") and "multi-start" (the warm
refit plus the default and 6 random starts explored on half the observations,
ranked on all, the best polished; one in ``every`` fits:
``max(restart_every, restart_growth * n)``). "mean" is the iteration averaged
over that schedule. Observations: real NB201 CIFAR-100 cells, two thirds at
the 12-epoch CE low fidelity, one third at 200 epochs. Reference: emukit's
linear multi-fidelity model (GPy) on the same data, warm-started from our
hyperparameters (its optimizer, 50 iterations at most), then predicting the
high level at all 15,625 cells. Targets (the mean iteration): < 15 ms at 200
and < 50 ms at 500 observations (2-core machine, one BLAS thread).

    python bench/bench_cokriging.py [--sizes 50 100 200 500] [--repeats 5] [--no-reference]
"""
from __future__ import annotations

import argparse
import math
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


KINDS = ("condition", "warm", "multi-start")


def _next_fit(model, theta, kind, n):
    """Set the model's schedule so that its next fit (on ``n`` observations) is of ``kind``, from ``theta``, with
    no bound newly reached."""
    model.theta, model._bounds_at_multistart = theta.copy(), frozenset(range(len(theta)))
    model._refit_size = n if kind == "condition" else 0
    model._multistart_fit = -model.restart_every if kind == "multi-start" else model.n_fits
    model._multistart_size = 0


def ours(bench, pool, low, high, repeats, **model_options):
    """Median seconds per iteration of each kind (fit + argmax over the pool), and the model."""
    x = bench.space.onehot
    y_low, y_high = bench._scores["ce12"], bench._scores["200"]
    model = CoKriging(rng=np.random.default_rng(0), **model_options)
    with single_threaded_blas():
        model.fit(x(low[:-1]), y_low[low[:-1]], x(high), y_high[high])  # the previous step's fit
    allowed = np.ones(len(pool), bool)
    allowed[high] = False
    times = {kind: [] for kind in KINDS}
    theta = model.theta.copy()
    for _ in range(repeats):
        for kind in KINDS:
            _next_fit(model, theta, kind, len(low) + len(high))
            start = time.perf_counter()
            with single_threaded_blas():
                model.fit(x(low), y_low[low], x(high), y_high[high])
                pool.best(model, 1, allowed, (low, high), rng=model.rng)
            times[kind].append(time.perf_counter() - start)
    return {kind: float(np.median(t)) for kind, t in times.items()}, model


def schedule_mean(model, n, times):
    """Fits from one scheduled multi-start to the next at about ``n`` observations (one new per fit), and the
    mean iteration over them: one multi-start, the rest a warm refit once in ``ceil(refit_growth * n)`` fits,
    else a conditioning-only fit."""
    every = max(model.restart_every, math.ceil(model.restart_growth * n))
    share = 1 / max(1, math.ceil(model.refit_growth * n))
    between = share * times["warm"] + (1 - share) * times["condition"]
    return every, ((every - 1) * between + times["multi-start"]) / every


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
    print("condition: a fit at the last hyperparameters; warm: a refit warm-started (ftol 1e-6); "
          "tight: a warm refit to L-BFGS-B's default ftol 2.2e-9; multi-start: a scheduled fit (exploratory starts "
          "on half the observations, the best polished); every: fits from one multi-start to the next; "
          "mean: the iteration averaged over that schedule (each includes the argmax over 15,625 cells)")
    print(f"{'n obs':>6} {'condition ms':>13} {'warm ms':>8} {'tight ms':>9} {'multi-start ms':>15} {'every':>6} "
          f"{'mean ms':>8} {'target ms':>10} {'emukit ms':>10} {'emukit/warm':>12}")
    for n in args.sizes:
        low, high = _data(bench, n, np.random.default_rng(n))
        times, model = ours(bench, pool, low, high, args.repeats)
        tight = ours(bench, pool, low, high, args.repeats, warm_ftol=2.220446049250313e-09)[0]["warm"]
        every, mean = schedule_mean(model, n, times)
        row = (f"{n:>6} {times['condition'] * 1e3:>13.1f} {times['warm'] * 1e3:>8.1f} {tight * 1e3:>9.1f} "
               f"{times['multi-start'] * 1e3:>15.1f} {every:>6} {mean * 1e3:>8.1f} "
               f"{({200: '15', 500: '50'}.get(n, '-')):>10}")
        if args.no_reference:
            print(row)
            continue
        r = reference(bench, model, low, high)
        print(f"{row} {r * 1e3:>10.0f} {r / times['warm']:>12.1f}")


if __name__ == "__main__":
    main()
