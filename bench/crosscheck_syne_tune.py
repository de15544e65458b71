"""Cross-check of the library adapter: syne-tune's REA (``st-rea``) against our own ``rea`` on one protocol.

Both run with population 10 and tournament size 3 (NATS-Bench's REA) at the 200-epoch target under the
``head-to-head`` budget, one seed per run. The two differ in how a parent is mutated: ours picks a node
uniformly, then one of its incoming edges (NB201's ``mutate_arch_func``: edge ``0->1`` a third of the time),
syne-tune one of the six edges uniformly. So a third search is our ``rea`` with syne-tune's edge choice
(``EDGE_CDF`` patched to uniform): with it the adapter and ours should give one distribution of final test
accuracies. The two-sample Kolmogorov-Smirnov test's p-value is printed for both pairs, with each search's
mean, standard deviation and median number of evaluations.

Usage: ``MFKDBENCH_DATA=../shared/data python bench/crosscheck_syne_tune.py [--dataset cifar100] [--seeds 200]``
(``pip install -e ".[syne-tune]"``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import ks_2samp

import mfkdbench.baselines.rea as rea_module
from mfkdbench import Budget, load_benchmark, simulate
from mfkdbench.search.presets import get_preset

OPTIONS = {"population_size": 10, "sample_size": 3}


def finals(bench, name: str, seeds: int, budget: Budget) -> tuple[np.ndarray, np.ndarray]:
    """Final report metric and number of evaluations of ``seeds`` runs."""
    runs = [simulate(bench, name, s, budget, optimizer_options=OPTIONS) for s in range(seeds)]
    return np.array([r.final_report for r in runs]), np.array([r.n_evaluations for r in runs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    bench = load_benchmark(args.dataset)
    budget = Budget(seconds=get_preset("head-to-head").budget_for(bench.dataset))
    print(f"{bench.name}, target 200, budget {budget.seconds:,.0f} simulated s, {args.seeds} seeds, {OPTIONS}")
    nb201_edges = rea_module.EDGE_CDF
    results = {}
    for label, name, edge_cdf in (("rea", "rea", nb201_edges), ("rea, uniform edge", "rea", np.arange(1, 7) / 6),
                                  ("st-rea", "st-rea", nb201_edges)):
        rea_module.EDGE_CDF = edge_cdf
        t0 = time.perf_counter()
        results[label] = finals(bench, name, args.seeds, budget)
        acc, n = results[label]
        print(f"{label:18s} final {bench.report_metric}: mean {acc.mean():.3f} std {acc.std(ddof=1):.3f}, "
              f"median evaluations {np.median(n):.0f}  ({time.perf_counter() - t0:.0f} s)")
    rea_module.EDGE_CDF = nb201_edges
    for ours in ("rea, uniform edge", "rea"):
        test = ks_2samp(results[ours][0], results["st-rea"][0])
        print(f"KS test, {ours} vs st-rea: statistic {test.statistic:.3f}, p-value {test.pvalue:.3f}")


if __name__ == "__main__":
    main()
