"""MF-NAS (Phan & Luong, GECCO 2024) on the simulated clock, beside the table its authors publish.

    python bench/reproduce_mfnas.py --seeds 100 [--data ../shared/data]

Per stage-1 metric and dataset, at the authors' budgets (CIFAR-10 20,000 s, CIFAR-100 40,000 s,
ImageNet16-120 120,000 s): the mean and std over seeds of the 200-epoch test accuracy of the cell ``mf-nas``
recommends, the simulated seconds and training epochs it used, beside the numbers of the authors'
``docs/MF-NAS.md`` (ELO-Lab/MF-NAS). Stage 1 is the paper's local search; ``--stage1 random`` runs the RS
ablation instead.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mfkdbench import Budget, load_benchmark, simulate

#: the authors' docs/MF-NAS.md: mean and std of the test accuracy, per stage-1 metric and dataset (1,192 epochs)
PUBLISHED = {
    "synflow": {"cifar10": (94.36, 0.05), "cifar100": (73.51, 0.00), "imagenet16-120": (46.34, 0.00)},
    "params": {"cifar10": (94.36, 0.00), "cifar100": (73.51, 0.00), "imagenet16-120": (46.34, 0.00)},
    "flops": {"cifar10": (94.36, 0.00), "cifar100": (73.51, 0.00), "imagenet16-120": (46.34, 0.00)},
}
BUDGETS = {"cifar10": 20_000, "cifar100": 40_000, "imagenet16-120": 120_000}
METRICS = ("params", "flops", "zen", "naswot")
AUTHORS_EPOCHS = 32 * 12 + 16 * 13 + 8 * 25 + 4 * 50 + 2 * 100  # 1,192: their rungs continue one 200-epoch run

WHY = """Why numbers differ:
* synflow: the data here has it for ~725 cells per dataset only (NAS-Bench-Suite-Zero's subset), so it is no
  stage-1 metric; params and FLOPs, for which the authors publish the same numbers, are.
* zen and naswot: the authors' README publishes no number for them (their ablation script runs them). Both rank
  badly here: Zen's Spearman with the test accuracy is about 0.4 and its top 1 % holds none of the true top 1 %,
  NASWOT's holds about 4 % (`mfkdbench correlation`), so the 32 candidates miss the best cells.
* stage 1: the paper's local search climbs params (or FLOPs) to the all-3x3 cell and collects its
  neighbours, so every seed's 32 candidates hold cell 9930 (hence +- 0.00); 2,000 random cells instead
  (--stage1 random, 100 seeds) give 94.18 +- 0.23 / 72.76 +- 0.70 / 45.98 +- 0.79 with params.
* epochs: the authors' rungs are epochs 12, 25, 50, 100, 200 of one 200-epoch run, each continuing the last
  (1,192 epochs); the data here has no per-epoch curve of that run, so ours are NB201's separate 12-epoch schedule
  for the 32 candidates and 200 epochs from scratch for the best 2 (784 epochs, each charged in full). Both end
  well inside the budgets; the authors quote the budget, not the time used.
* the final pick: the authors choose among the last 2 cells by test accuracy (sh.py); ours by the 200-epoch
  validation accuracy. With params/FLOPs both pick cell 9930 (the finalists of seed 0 are 9930 and 8102 on
  CIFAR-10, 9930 and 13403 on CIFAR-100 and ImageNet16-120, 9930 best on either split); the optima of CIFAR-10
  (6111, 94.37) and ImageNet16-120 (857, 47.31) are not among the 32 candidates.
* CIFAR-10: the authors halve NB201's recorded training time; ours charges cifar10-valid's time as every search
  here (it changes the seconds, not the cell)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="runs per metric and dataset")
    parser.add_argument("--stage1", default="local", choices=("local", "random"), help="stage-1 walk")
    parser.add_argument("--data", default=None, help="NB201 data (default: $MFKDBENCH_DATA, else the shipped tables)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    print(f"MF-NAS, {args.seeds} seeds, stage 1 {args.stage1}: 200-epoch test accuracy (%) of the recommended cell")
    print(f"{'metric':<8} {'dataset':<15} {'budget s':>9} {'published':>14} {'ours':>14} {'used s':>8} {'epochs':>7}  "
          "cells recommended")
    for dataset, budget in BUDGETS.items():
        bench = load_benchmark(dataset, args.data)
        for metric in ("synflow",) + METRICS:
            published = PUBLISHED.get(metric, {}).get(dataset)
            shown = f"{published[0]:.2f} ± {published[1]:.2f}" if published else "-"
            if metric not in bench.fidelities:
                print(f"{metric:<8} {dataset:<15} {budget:>9,} {shown:>14} {'not in data':>14}")
                continue
            runs = [simulate(bench, "mf-nas", s, Budget(seconds=budget),
                             optimizer_options={"metric": metric, "stage1": args.stage1}) for s in range(args.seeds)]
            acc = np.array([r.final_report for r in runs])
            used = np.mean([r.evaluation_columns["end"].max() for r in runs])
            epochs = np.mean([sum(bench.fidelity(f).epochs for f in r.evaluation_columns["fidelity"]) for r in runs])
            cells = np.unique([r.final_index for r in runs], return_counts=True)
            top = ", ".join(f"{c} x{n}" for c, n in sorted(zip(*cells), key=lambda t: -t[1])[:3])
            print(f"{metric:<8} {dataset:<15} {budget:>9,} {shown:>14} {f'{acc.mean():.2f} ± {acc.std():.2f}':>14} "
                  f"{used:>8,.0f} {epochs:>7.0f}  {top}")
    print(f"\n(authors: {AUTHORS_EPOCHS:,} epochs per run)\n")
    print(WHY)
    print(f"\n({time.perf_counter() - t0:.1f} s wall clock)")


if __name__ == "__main__":
    main()
