"""Reproduction of the NAS-Bench-201 paper's table of non-weight-sharing searches (Dong & Yang, ICLR 2020).

Each optimizer runs under the ``nb201-iclr20`` preset for seeds ``0..n-1`` on
each dataset; the table gives the mean +- standard deviation (ddof 0, as
``np.std``) of the final incumbent's 200-epoch test accuracy beside the
published numbers. Only the published numbers quoted in the project's issue
are listed; the others show as ``n/a``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mfkdbench.lowfi.catalog import load_benchmark
from mfkdbench.search.optimizer import optimizer_names
from mfkdbench.search.presets import get_preset
from mfkdbench.search.simulator import Budget, simulate

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
#: NB201 (ICLR 2020) Table 5, test accuracy mean and std, as quoted in the project's issue
PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "random": {"cifar10": (93.70, 0.36), "imagenet16-120": (44.57, 1.25)},
    "reinforce": {"cifar10": (93.85, 0.37), "cifar100": (71.71, 1.09), "imagenet16-120": (45.24, 1.18)},
}
PUBLISHED_OPTIMUM = {"cifar10": 94.37, "cifar100": 73.51, "imagenet16-120": 47.31}
#: rows of the table: label -> (registered optimizer, options)
ROWS: dict[str, tuple[str, dict]] = {
    "random": ("random", {}),
    "rea": ("rea", {}),
    "reinforce": ("reinforce", {}),
    "reinforce-lr0.001": ("reinforce", {"learning_rate": 0.001}),
    "bohb-nb201": ("bohb-nb201", {}),  # NB201 ran BOHB without real budgets (baselines/bohb.py)
}

NOTES = """\
Notes on the differences (see mfkdbench/nb201/benchmark.py and mfkdbench/search/presets.py):
* time model: NB201's scripts charge the recorded 12-epoch training time plus one validation
  pass ('train-all-time' + 'valid-per-time' of the hp=12 run). The data here has no 12-epoch
  times, so a ce12 evaluation costs 12/200 of the recorded 200-epoch time and no validation
  time; the number of evaluations per run (column evals) differs accordingly. Under 12,000 s
  that gives about 110 / 55 / 18 evaluations on CIFAR-10 / CIFAR-100 / ImageNet16-120 (the
  data's per-epoch times grow with the training-set size: 25k / 50k / 151.7k images). The
  published CIFAR-100 and ImageNet16-120 numbers are met when every dataset gets CIFAR-10's
  evaluation count (second table), so NB201's recorded 12-epoch times for those datasets
  must have allowed far more evaluations than this cost model does.
* benchmark version: these tables are NATS-Bench-tss / NB201 v1_1 numbers (means over 2-3
  training seeds); the ICLR 2020 paper used NAS-Bench-201-v1_0, which has fewer seeds for some
  architectures (the CIFAR-10 values agree for 84.5 % of the cells).
* seed handling: seeds 0..n-1 here, random.randint(1, 100000) in NB201's scripts; the search
  score of the 12-epoch schedule has one training run, so NB201's is_random draw changes
  nothing; the reported test accuracy is the mean over training seeds.
* budget end: every run here lets the last evaluation overshoot (NATS-Bench's rule); the later
  NB201 R_EA.py drops an evaluation that would end after the budget and also charges the
  optimizer's wall time. REA's tournament size is 3 (NATS-Bench's run-all.sh).
* REINFORCE: the registered default learning rate is NATS-Bench's 0.01; NB201's REINFORCE.sh
  used 0.001 (row reinforce-lr0.001)."""


def reproduce_nb201(n_seeds: int, datasets=DATASETS, rows: dict[str, tuple[str, dict]] | None = None,
                    data: str | None = None, evaluations: int | None = None) -> pd.DataFrame:
    """One row per (label, dataset): mean/std of the final test accuracy over ``n_seeds`` runs.

    With ``evaluations`` every run makes that many evaluations instead of
    spending the preset's seconds, which takes the time model out of the comparison.
    """
    rows = ROWS if rows is None else rows
    preset, registered = get_preset("nb201-iclr20"), set(optimizer_names())
    records = []
    for dataset in datasets:
        bench = load_benchmark(dataset, data)
        budget = Budget(evaluations=evaluations) if evaluations else Budget(preset.budget_for(bench.dataset))
        for label, (name, options) in rows.items():
            if name not in registered:
                continue
            runs = [simulate(bench, name, seed, budget, target_fidelity=preset.target_fidelity,
                             optimizer_options=options) for seed in range(n_seeds)]
            finals = np.array([r.final_report for r in runs])
            published = PUBLISHED.get(label, {}).get(bench.dataset, (np.nan, np.nan))
            records.append({
                "optimizer": label, "dataset": bench.dataset, "mean": finals.mean(), "std": finals.std(),
                "published_mean": published[0], "published_std": published[1],
                "evals": np.mean([len(r.evaluations) for r in runs]), "optimum": bench.optimum,
                "published_optimum": PUBLISHED_OPTIMUM[bench.dataset],
            })
    return pd.DataFrame.from_records(records)


def format_table(table: pd.DataFrame, title: str) -> str:
    """The comparison as text: ours (mean evaluations per run) vs published, per optimizer and dataset."""
    def cell(mean, std):
        return "n/a" if np.isnan(mean) else f"{mean:.2f}+-{std:.2f}"

    datasets = list(dict.fromkeys(table["dataset"]))
    width = 34
    lines = [title, f"{'optimizer':<18}" + "".join(f"{d:>{width}}" for d in datasets),
             f"{'':<18}" + "".join(f"{'ours (evals) | published':>{width}}" for _ in datasets)]
    for label, group in table.groupby("optimizer", sort=False):
        by = group.set_index("dataset")
        cells = []
        for d in datasets:
            r = by.loc[d]
            text = f"{cell(r['mean'], r['std'])} ({r.evals:.0f}) | {cell(r.published_mean, r.published_std)}"
            cells.append(f"{text:>{width}}")
        lines.append(f"{label:<18}" + "".join(cells))
    opt = table.drop_duplicates("dataset").set_index("dataset")
    lines.append(f"{'optimum':<18}" + "".join(
        f"{f'{opt.loc[d].optimum:.2f} | {opt.loc[d].published_optimum:.2f}':>{width}}" for d in datasets))
    return "\n".join(lines)
