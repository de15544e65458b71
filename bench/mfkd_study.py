"""MF-KD study: the co-kriging searches against low-fidelity-only, target-only and other multi-fidelity rows.

Benchmarks (target: 200-epoch validation accuracy; reported: 200-epoch test accuracy):

* ``kd240``: ``cifar100-kd240``, the 240 CIFAR-100 cells with the authors' NST
  runs; budgets 20,000 / 50,000 / 100,000 / 200,000 simulated seconds. The 12
  log-only NST cells (224, 227, 228, 230, 231, 233-239) have only x-test
  scores, the report split: here their ``nst12`` is unknown (NaN) to every search.
* ``full``: all 15,625 CIFAR-100 cells; budgets 40,000 (NATS-Bench's) /
  120,000 / 200,000 s (no KD data, so no mfkd).

Rows: the multi-fidelity GP searches (``mfkd``, ``mf-ce``; ``cost``: the
cost-aware allocation; ``path``: the path encoding; ``local``: candidates next
to the best cells), the target-only ``gp-hf`` and ``random/rea/local-search@200``, and the low-fidelity-only
``random/rea/local-search@ce12`` (and ``@nst12``), which search that fidelity
and recommend their best cell by its score there (NB201's protocol).

Each run is simulated once at the largest budget; the result at a smaller
budget ``B`` is the best target-fidelity score among the evaluations started
before ``B`` (with one worker and an optimizer that never sees the budget,
exactly the run at budget ``B``). Per budget: mean (std) over seeds, and for
every multi-fidelity row the paired Wilcoxon signed-rank p-value (two-sided,
same seeds) against the best other row at that budget, and against ``gp-hf``
(NST against CE: ``mfkd`` against ``mf-ce``).

    nice python bench/mfkd_study.py --seeds 100 [--only kd240|full] [--rows mfkd rea@ce12 ...]
    python bench/mfkd_study.py --seeds 100 --report   # the tables from the CSVs only

Finished runs are appended to ``mfkd_study_<study>.csv`` (``--out`` prefix) as
they come; a rerun skips them, so seeds can be added later.
"""
from __future__ import annotations

import argparse
import os
from multiprocessing import Pool

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import wilcoxon  # noqa: E402

from checkpoints import started_incumbent  # noqa: E402
from mfkdbench import load_benchmark  # noqa: E402
from mfkdbench.nb201.benchmark import FidelityTable  # noqa: E402
from mfkdbench.search.simulator import Budget, simulate  # noqa: E402

BASELINES = ["random", "rea", "local-search"]


def _rows(multi_fidelity: list[tuple[str, str, dict]], low_fidelities: list[str]) -> dict[str, tuple]:
    """label -> (optimizer, target fidelity, options, is a multi-fidelity row)."""
    rows = {label: (opt, "200", options, True) for label, opt, options in multi_fidelity}
    rows["gp-hf"] = ("gp-hf", "200", {}, False)
    rows.update({f"{opt}@{fid}": (opt, fid, {}, False) for fid in ["200"] + low_fidelities for opt in BASELINES})
    return rows


STUDIES = {
    "kd240": ("cifar100-kd240", [20_000.0, 50_000.0, 100_000.0, 200_000.0], _rows(
        [("mfkd", "mfkd", {}), ("mfkd cost", "mfkd", {"allocation": "cost"}),
         ("mfkd path", "mfkd", {"encoding": "path"}), ("mfkd local", "mfkd", {"candidates": "local"}),
         ("mf-ce", "mf-ce", {}), ("mf-ce cost", "mf-ce", {"allocation": "cost"})], ["ce12", "nst12"])),
    "full": ("cifar100", [40_000.0, 120_000.0, 200_000.0], _rows(
        [("mf-ce", "mf-ce", {}), ("mf-ce cost", "mf-ce", {"allocation": "cost"}),
         ("mf-ce local", "mf-ce", {"candidates": "local"})], ["ce12"])),
}


def benchmark(name: str):
    """The benchmark as searches see it: on kd240 the log-only cells' ``nst12`` is unknown."""
    bench = load_benchmark(name)
    if "nst12" not in bench.fidelities:
        return bench
    nst = next(t for t in bench.fidelity_tables() if t.fidelity.name == "nst12")
    scores = nst.scores.copy()
    scores[np.isnan(bench.tables.get(bench.dataset, "nst12_val"))] = np.nan
    return bench.with_fidelities([FidelityTable(nst.fidelity, scores, nst.costs)])


def one(job):
    study, label, seed = job
    name, budgets, rows = STUDIES[study]
    optimizer, target, options, _ = rows[label]
    bench = benchmark(name)
    run = simulate(bench, optimizer, seed, Budget(seconds=budgets[-1]), target_fidelity=target,
                   optimizer_options=options)
    ev = run.evaluations
    out = {"row": label, "seed": seed, "ended": run.config["ended"],
           "evals_target": int((ev.fidelity == target).sum()), "evals_other": int((ev.fidelity != target).sum())}
    for budget in budgets:
        index = started_incumbent(ev, target, budget)
        out[f"final@{budget:g}"] = bench.report(index) if index >= 0 else np.nan
        out[f"best@{budget:g}"] = index == bench.best_index
    return out


def _p_value(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 if np.allclose(a, b) else float(wilcoxon(a, b).pvalue)


def report(df: pd.DataFrame, study: str) -> str:
    """Markdown: mean (std) per row and budget; p-values of the multi-fidelity rows against the best other row."""
    name, budgets, rows = STUDIES[study]
    seeds = df.groupby("row").seed.nunique()
    common = sorted(set.intersection(*(set(g.seed) for _, g in df.groupby("row"))))
    df = df[df.seed.isin(common)].sort_values(["row", "seed"])
    by_row = {label: g for label, g in df.groupby("row")}
    labels = [label for label in rows if label in by_row]
    head = ["row"] + [f"{b:,.0f} s" for b in budgets] + ["found best", f"evals at {budgets[-1]:,.0f} s: target / other"]
    lines = [f"`{name}`, {len(common)} seeds (paired), mean (std) of the 200-epoch test accuracy", "",
             "| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for label in labels:
        g = by_row[label]
        cells = [f"{g[f'final@{b:g}'].mean():.3f} ({g[f'final@{b:g}'].std():.3f})" for b in budgets]
        exhausted = (g.ended == "optimizer exhausted").sum()
        evals = f"{g.evals_target.mean():.1f} / {g.evals_other.mean():.1f}" + (
            f" (exhausted in {exhausted})" if exhausted else "")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {g[f'best@{budgets[-1]:g}'].mean():.2f} | {evals} |")
    lines += ["", "| multi-fidelity row vs best other row | " + " | ".join(f"{b:,.0f} s" for b in budgets) + " |",
              "|---" + "|---" * len(budgets) + "|"]
    for label in (lab for lab in labels if rows[lab][3]):
        cells = []
        for b in budgets:
            col = f"final@{b:g}"
            others = [lab for lab in labels if lab != label and not rows[lab][3]]
            if not others:
                cells.append("no other row")
                continue
            best = max(others, key=lambda lab: by_row[lab][col].mean())
            diff = by_row[label][col].mean() - by_row[best][col].mean()
            cells.append(f"{diff:+.3f} vs {best}, p = {_p_value(by_row[label][col].to_numpy(), by_row[best][col].to_numpy()):.2g}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    pairs = [(label, "gp-hf") for label in labels if rows[label][3]] + [
        ("mfkd", "mf-ce"), ("mfkd path", "mfkd"), ("mfkd local", "mfkd"), ("mfkd cost", "mfkd"),
        ("mf-ce local", "mf-ce"), ("mf-ce cost", "mf-ce")]
    lines += ["", "| pair (paired difference, p) | " + " | ".join(f"{b:,.0f} s" for b in budgets) + " |",
              "|---" + "|---" * len(budgets) + "|"]
    for a, b in (pair for pair in pairs if set(pair) <= set(labels)):
        x, y = by_row[a], by_row[b]
        lines.append(f"| {a} - {b} | " + " | ".join(
            f"{x[f'final@{t:g}'].mean() - y[f'final@{t:g}'].mean():+.3f}, p = "
            f"{_p_value(x[f'final@{t:g}'].to_numpy(), y[f'final@{t:g}'].to_numpy()):.2g}" for t in budgets) + " |")
    if seeds.nunique() > 1:
        lines.append(f"\n(seeds per row before pairing: {({k: int(v) for k, v in seeds.items()})})")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only", choices=sorted(STUDIES), default=None)
    parser.add_argument("--rows", nargs="+", default=None, help="Only these rows (labels).")
    parser.add_argument("--out", default="mfkd_study_", help="Per-seed rows go to OUT<study>.csv (appended; "
                                                             "finished runs are skipped).")
    parser.add_argument("--report", action="store_true", help="Only print the tables of the runs in the CSVs.")
    args = parser.parse_args()
    for study in (s for s in STUDIES if args.only in (None, s)):
        path = f"{args.out}{study}.csv"
        done = pd.read_csv(path) if os.path.exists(path) else pd.DataFrame(columns=["row", "seed"])
        if not args.report:
            finished = set(zip(done.row, done.seed))
            jobs = [(study, label, seed) for seed in range(args.seeds) for label in STUDIES[study][2]
                    if (args.rows is None or label in args.rows) and (label, seed) not in finished]
            with Pool(args.processes) as pool:
                for row in pool.imap_unordered(one, jobs):
                    pd.DataFrame([row]).to_csv(path, mode="a", header=not os.path.exists(path), index=False)
            done = pd.read_csv(path)
        if len(done):
            print(report(done[done.seed < args.seeds], study) + "\n")


if __name__ == "__main__":
    main()
