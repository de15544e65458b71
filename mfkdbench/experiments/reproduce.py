"""Reproduction of the NAS-Bench-201 paper's table of non-weight-sharing searches (Dong & Yang, ICLR 2020).

Two protocols, each optimizer under the ``nb201-iclr20`` preset for seeds ``0..n-1``:

* ``per-dataset`` (:func:`reproduce_nb201`): search each dataset on its own
  validation data, report its test accuracy;
* ``transfer`` (:func:`transfer_nb201`): what NB201's search scripts did at the
  paper's release: search CIFAR-10 only and report the chosen cell's test
  accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120.

The tables give the mean +- standard deviation (ddof 0, as ``np.std``) of the
final incumbent's 200-epoch test accuracy beside the published numbers. Only
the published numbers quoted in the project's issues are listed (a mean
without its std where only the mean was quoted); the others show as ``n/a``.
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
    "rea": {"cifar100": (71.84, np.nan), "imagenet16-120": (45.54, np.nan)},
    "bohb-nb201": {"cifar10": (93.61, np.nan), "cifar100": (70.85, np.nan), "imagenet16-120": (44.42, np.nan)},
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
* protocol: the published table comes from NB201's search scripts at the paper's release, which
  searched CIFAR-10 (cifar10-valid, 12-epoch validation accuracy) and reported the chosen cell
  on every dataset: the "transfer" table. Searching CIFAR-100 and ImageNet16-120 on their own
  data under 12,000 s ("per-dataset") buys far fewer evaluations (about 55 / 18 against 110 on
  CIFAR-10: the per-epoch times grow with the training-set size, 25k / 50k / 151.7k images),
  which explains the lower per-dataset numbers there; the transfer rows meet the published ones.
* time model: a ce12 evaluation costs 12/200 of the recorded 200-epoch time (the data has no
  12-epoch times) and no validation pass; NB201 charged the hp=12 run's recorded times.
* benchmark version: these tables are NATS-Bench-tss / NB201 v1_1 numbers (means over 2-3
  training seeds); the ICLR 2020 paper used NAS-Bench-201-v1_0, which has fewer seeds for some
  architectures (the CIFAR-10 values agree for 84.5 % of the cells).
* seed handling: seeds 0..n-1 here, random.randint(1, 100000) in NB201's scripts; the search
  score of the 12-epoch schedule has one training run, so NB201's is_random draw changes
  nothing; the reported test accuracy is the mean over training seeds.
* budget end: the last evaluation may overshoot (NATS-Bench's rule) except for bohb-nb201,
  which drops it as NB201's BOHB script does; REA's tournament size is 3 (NATS-Bench's run-all.sh).
* REINFORCE: the registered default learning rate is NATS-Bench's 0.01; NB201's REINFORCE.sh
  used 0.001 (row reinforce-lr0.001).
* bohb-nb201: NB201's settings (num_samples 4, random_fraction 0, bandwidth_factor 3, min_bandwidth
  0.3, incumbent from the top rung). The remaining gap to 93.61 / 70.85 / 44.42 comes from the density
  model: hpbandster's statsmodels KDE over the 6 categorical edges counts only the levels present
  and widens bandwidths through bandwidth_factor for continuous parameters only; ours is the
  hand-written Aitchison-Aitken kernel of baselines/bohb.py, so its proposals differ in detail."""


def _record(label: str, bench, finals: np.ndarray, runs: list) -> dict:
    """One table row: our mean/std of ``finals`` on ``bench`` beside the published numbers."""
    published = PUBLISHED.get(label, {}).get(bench.dataset, (np.nan, np.nan))
    return {"optimizer": label, "dataset": bench.dataset, "mean": finals.mean(), "std": finals.std(),
            "published_mean": published[0], "published_std": published[1],
            "evals": np.mean([len(r.evaluations) for r in runs]), "optimum": bench.optimum,
            "published_optimum": PUBLISHED_OPTIMUM[bench.dataset]}


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
            records.append(_record(label, bench, np.array([r.final_report for r in runs]), runs))
    return pd.DataFrame.from_records(records)


def transfer_nb201(n_seeds: int, datasets=DATASETS, rows: dict[str, tuple[str, dict]] | None = None,
                   data: str | None = None) -> pd.DataFrame:
    """NB201's release protocol: search CIFAR-10 under ``nb201-iclr20``, report each run's chosen cell on every
    dataset in ``datasets``; the records of :func:`reproduce_nb201` (``evals``: the CIFAR-10 search's)."""
    rows = ROWS if rows is None else rows
    preset, registered = get_preset("nb201-iclr20"), set(optimizer_names())
    search = load_benchmark("cifar10", data)
    reports = {d: load_benchmark(d, data) for d in datasets}
    records = []
    for label, (name, options) in rows.items():
        if name not in registered:
            continue
        runs = [simulate(search, name, seed, Budget(preset.budget_for("cifar10")),
                         target_fidelity=preset.target_fidelity, optimizer_options=options) for seed in range(n_seeds)]
        cells = np.array([r.final_index for r in runs])
        records += [_record(label, bench, np.asarray(bench.report(cells), dtype=float), runs)
                    for bench in reports.values()]
    return pd.DataFrame.from_records(records)


def format_table(table: pd.DataFrame, title: str) -> str:
    """The comparison as text: ours (mean evaluations per run) vs published, per optimizer and dataset."""
    def cell(mean, std):
        if np.isnan(mean):
            return "n/a"
        return f"{mean:.2f}" if np.isnan(std) else f"{mean:.2f}+-{std:.2f}"

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
