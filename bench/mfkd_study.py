"""MF-KD study: the GP searches against random search, REA and local search over many seeds.

* ``cifar100-kd240`` (the 240 CIFAR-100 cells with the authors' NST runs):
  mfkd, mf-ce, gp-hf, random, rea, local-search; hf200's budget (200,000
  simulated seconds), target = 200-epoch validation accuracy.
* cifar10 / cifar100 / imagenet16-120 under ``nats-hf200`` (NATS-Bench's
  budgets, 20,000 / 40,000 / 120,000 s, with target 200 epochs; nats-tpami21
  itself targets ce12, which leaves a multi-fidelity method no lower
  fidelity): mf-ce, gp-hf and the baselines (no KD data outside the 240
  cells, so no mfkd).

Per optimizer: final 200-epoch test accuracy (mean, std, median), the share of
seeds that found the benchmark's best cell (by test accuracy) and the
simulated seconds until they did (mean, std over those seeds).

    python bench/mfkd_study.py [--seeds 100] [--processes 2] [--only kd240|full]
"""
from __future__ import annotations

import argparse
import os
from multiprocessing import Pool

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mfkdbench import load_benchmark  # noqa: E402
from mfkdbench.search.presets import get_preset  # noqa: E402
from mfkdbench.search.simulator import Budget, simulate  # noqa: E402

BASELINES = ["random", "rea", "local-search"]
STUDIES = {
    "kd240": [("cifar100-kd240", 200_000.0, ["mfkd", "mf-ce", "gp-hf"] + BASELINES)],
    "full": [(ds, get_preset("nats-hf200").budget_for(ds), ["mf-ce", "gp-hf"] + BASELINES)
             for ds in ("cifar10", "cifar100", "imagenet16-120")],
}


def one(job):
    name, seconds, optimizer, seed = job
    bench = load_benchmark(name)
    run = simulate(bench, optimizer, seed, Budget(seconds=seconds), target_fidelity="200")
    inc = run.incumbents
    hit = inc[inc["index"] == bench.best_index]
    return {"benchmark": name, "optimizer": optimizer, "seed": seed, "final": run.final_report,
            "found_at": float(hit["time"].iloc[0]) if len(hit) else np.nan,
            "evaluations": len(run.evaluations), "optimum": bench.optimum}


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["benchmark", "optimizer"], sort=False)
    return pd.DataFrame({
        "seeds": g.size(), "final mean": g["final"].mean(), "final std": g["final"].std(),
        "final median": g["final"].median(), "regret mean": (g["optimum"].first() - g["final"].mean()),
        "found best": g["found_at"].apply(lambda s: s.notna().mean()),
        "time to best mean s": g["found_at"].mean(), "time to best std s": g["found_at"].std(),
        "evals mean": g["evaluations"].mean()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only", choices=sorted(STUDIES), default=None)
    parser.add_argument("--out", default=None, help="Also write the per-seed rows to this CSV.")
    args = parser.parse_args()
    jobs = [(name, seconds, opt, seed) for study, items in STUDIES.items() if args.only in (None, study)
            for name, seconds, opts in items for opt in opts for seed in range(args.seeds)]
    with Pool(args.processes) as pool:
        rows = pool.map(one, jobs, chunksize=4)
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summarize(df).round(3).to_string())


if __name__ == "__main__":
    main()
