"""MF-KD with and without a zero-cost prior against the strongest searches, at the head-to-head checkpoints.

Benchmarks: ``cifar10``, ``cifar100``, ``imagenet16-120`` (all 15,625 cells) and ``cifar100-kd240`` (the 240
CIFAR-100 cells with the authors' NST runs), under the default preset ``head-to-head`` (target: 200-epoch
validation accuracy; budget 10x NATS-Bench's, results at 1x, 3x and 10x: 20k / 60k / 200k s on CIFAR-10,
40k / 120k / 400k s on CIFAR-100 and kd240, 120k / 360k / 1.2M s on ImageNet16-120). Reported: the
200-epoch test accuracy of the incumbent (best 200-epoch validation score among the evaluations started
before the checkpoint; for a low-fidelity-only row, its best score at its own fidelity): NB201's protocol, the
run at a budget equal to the checkpoint. ``--rule finished`` reports instead the incumbent among the results
finished by the checkpoint, as ``mfkdbench compare`` does (:func:`mfkdbench.report.summary.report_at`).

Rows: the MF-KD rows (``mfkd`` and ``mfkd-zc`` where ``nst12`` exists, ``mf-ce``, ``mf-ce-zc``), the
training-free searches of issue 20 (``mf-nas``, ``rea-zc@ce12``, ``rea-zc@200``, ``topk``, where registered)
the best earlier rows (random / REA / local search / NB201's BOHB at ``ce12`` and on kd240 ``nst12``,
``rea@200``, ``bohb``, ``hyperband``) and DEHB (``dehb``, the strongest library row, where installed). Verdict per MF-KD row, benchmark and checkpoint: the paired two-sided
Wilcoxon signed-rank test (same seeds) against the best other row there, Holm-corrected over the MF-KD
rows x checkpoints of the benchmark; "wins" / "loses" at a corrected p < 0.05, else "ties".

    nice python bench/mfkd_zc_study.py --seeds 100 [--only cifar100 ...] [--rows mf-ce-zc ...]
    python bench/mfkd_zc_study.py --report            # the tables from the CSVs only

Finished runs are appended to ``mfkd_zc_study_<benchmark>.csv`` (``--out`` prefix); a rerun skips them.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
from multiprocessing import Pool

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import wilcoxon  # noqa: E402

from checkpoints import started_incumbent  # noqa: E402
from mfkdbench import load_benchmark  # noqa: E402
from mfkdbench.report.stats import holm  # noqa: E402
from mfkdbench.report.summary import report_at  # noqa: E402
from mfkdbench.search.optimizer import optimizer_names  # noqa: E402
from mfkdbench.search.presets import get_preset  # noqa: E402
from mfkdbench.search.simulator import Budget, simulate  # noqa: E402

BENCHMARKS = ["cifar10", "cifar100", "imagenet16-120", "cifar100-kd240"]
MFKD_ROWS = ["mfkd", "mfkd-zc", "mf-ce", "mf-ce-zc"]
STRONG_ROWS = ["mf-nas", "rea-zc@ce12", "rea-zc@200", "topk"]
EARLIER_ROWS = ["random@ce12", "rea@ce12", "local-search@ce12", "bohb-nb201@ce12", "rea@200", "bohb", "hyperband"]
KD_ROWS = ["random@nst12", "rea@nst12", "local-search@nst12"]
#: library rows and the module each needs
LIBRARY_ROWS = {"dehb": "dehb"}
ALPHA = 0.05


def rows(benchmark: str, installed: bool = True) -> list[str]:
    """The rows of ``benchmark`` (those with the fidelities they need), in table order; ``installed``: only those
    that can run here (registered, their library installed)."""
    kd = benchmark.endswith("kd240")
    out = [r for r in MFKD_ROWS if kd or "mfkd" not in r] + STRONG_ROWS + EARLIER_ROWS + (KD_ROWS if kd else [])
    if not installed:
        return out + list(LIBRARY_ROWS)
    out += [r for r, module in LIBRARY_ROWS.items() if importlib.util.find_spec(module) is not None]
    return [r for r in out if r.split("@")[0] in set(optimizer_names())]


def columns(benchmark: str) -> list[str]:
    """The columns of a benchmark's CSV, as :func:`one` writes them."""
    return ["row", "seed", "family", "evals", "evals_200"] + [
        f"{kind}@{t:g}" for t in checkpoints(benchmark) for kind in ("final", "known")]


def checkpoints(benchmark: str) -> list[float]:
    bench_dataset = "cifar100" if benchmark.endswith("kd240") else benchmark
    return list(get_preset("head-to-head").checkpoints_for(bench_dataset))


def one(job):
    benchmark, row, seed = job
    bench = load_benchmark(benchmark)
    times = checkpoints(benchmark)
    run = simulate(bench, row, seed, Budget(seconds=times[-1]))
    ev = run.evaluations
    search_fidelity = run.config["search_fidelity"] or "200"
    out = {"row": row, "seed": seed, "family": run.config["family"], "evals": len(ev),
           "evals_200": int((ev.fidelity == "200").sum())}
    for t in times:
        index = started_incumbent(ev, search_fidelity, t)
        out[f"final@{t:g}"] = bench.report(index) if index >= 0 else np.nan
        out[f"known@{t:g}"] = report_at(run.incumbents, t)
    return out


def _p(a, b) -> float:
    return 1.0 if np.allclose(a, b) else float(wilcoxon(a, b).pvalue)


RULES = {"started": "final", "finished": "known"}


def report(df: pd.DataFrame, benchmark: str, rule: str = "started") -> str:
    times = checkpoints(benchmark)
    optimum = load_benchmark(benchmark).optimum
    at = {t: f"{RULES[rule]}@{t:g}" for t in times}
    if f"{RULES[rule]}@{times[-1]:g}" not in df.columns:
        raise SystemExit(f"{benchmark}: the CSV has no {RULES[rule]}@ columns (written by an older version of this "
                         f"script); rerun into a new --out prefix for --rule {rule}")
    labels = [r for r in rows(benchmark, installed=False) if r in set(df.row)]
    seeds = {r: set(df[df.row == r].seed) for r in labels}
    by = {r: df[df.row == r].set_index("seed").sort_index() for r in labels}
    head = ["row", "seeds"] + [f"{t:,.0f} s" for t in times] + [f"optimum found at {times[-1]:,.0f} s"]
    lines = [f"`{benchmark}`, head-to-head, incumbents of the evaluations {rule} by each checkpoint: mean (std) of "
             f"the 200-epoch test accuracy, optimum {optimum:.3f}", "", "| " + " | ".join(head) + " |",
             "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in labels:
        g = by[r]
        found = np.isclose(g[at[times[-1]]], optimum)  # CIFAR-10 has two cells at the optimum
        lines.append(f"| {r} | {len(g)} | " + " | ".join(
            f"{g[at[t]].mean():.3f} ({g[at[t]].std():.3f})" for t in times) + f" | {np.mean(found):.2f} |")
    tests, cells = {}, {}
    for r in (x for x in labels if x in MFKD_ROWS):
        for t in times:
            others = [x for x in labels if x not in MFKD_ROWS]
            best = max(others, key=lambda x: by[x][at[t]].mean())
            common = sorted(seeds[r] & seeds[best])
            a, b = by[r].loc[common, at[t]].to_numpy(), by[best].loc[common, at[t]].to_numpy()
            tests[(r, t)] = _p(a, b)
            cells[(r, t)] = (a.mean() - b.mean(), best, len(common))
    adjusted = dict(zip(tests, holm(list(tests.values()))))
    lines += ["", "| MF-KD row vs the best other row (paired difference, Holm-adjusted p, verdict) | "
              + " | ".join(f"{t:,.0f} s" for t in times) + " |", "|---" + "|---" * len(times) + "|"]
    for r in (x for x in MFKD_ROWS if x in labels):
        out = []
        for t in times:
            diff, best, n = cells[(r, t)]
            p = adjusted[(r, t)]
            verdict = ("wins" if diff > 0 else "loses") if p < ALPHA else "ties"
            out.append(f"{diff:+.3f} vs {best} ({n} seeds), p = {p:.2g}: **{verdict}**")
        lines.append(f"| {r} | " + " | ".join(out) + " |")
    pairs = [("mfkd-zc", "mfkd"), ("mf-ce-zc", "mf-ce"), ("mfkd", "mf-ce"), ("mfkd-zc", "mf-ce-zc")]
    lines += ["", "| pair (paired difference, p, unadjusted) | " + " | ".join(f"{t:,.0f} s" for t in times) + " |",
              "|---" + "|---" * len(times) + "|"]
    for a, b in (p for p in pairs if set(p) <= set(labels)):
        common = sorted(seeds[a] & seeds[b])
        x, y = by[a].loc[common], by[b].loc[common]
        lines.append(f"| {a} - {b} ({len(common)} seeds) | " + " | ".join(
            f"{x[at[t]].mean() - y[at[t]].mean():+.3f}, p = {_p(x[at[t]].to_numpy(), y[at[t]].to_numpy()):.2g}"
            for t in times) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS)
    parser.add_argument("--rows", nargs="+", default=None, help="Only these rows.")
    parser.add_argument("--out", default="mfkd_zc_study_", help="per-seed results go to OUT<benchmark>.csv")
    parser.add_argument("--report", action="store_true", help="only print the tables of the runs in the CSVs")
    parser.add_argument("--rule", choices=RULES, default="started",
                        help="incumbent at a checkpoint: among the evaluations started (NB201) or finished by it")
    args = parser.parse_args()
    paths = {benchmark: f"{args.out}{benchmark}.csv" for benchmark in args.only}
    if not args.report:
        jobs = []
        for benchmark, path in paths.items():
            done = pd.read_csv(path) if os.path.exists(path) else pd.DataFrame(columns=columns(benchmark))
            if list(done.columns) != columns(benchmark):
                raise SystemExit(f"{path} has other columns than this version writes; use a new --out prefix")
            have = set(zip(done.row, done.seed))
            jobs += [(benchmark, r, s) for r in (args.rows or rows(benchmark)) if r in rows(benchmark)
                     for s in range(args.seeds) if (r, s) not in have]
        jobs.sort(key=lambda job: job[2])  # seed by seed, so that every row has about as many seeds at any time
        with Pool(args.processes) as pool:
            for job, result in zip(jobs, pool.imap(one, jobs)):
                path = paths[job[0]]
                pd.DataFrame([result]).to_csv(path, mode="a", header=not os.path.exists(path), index=False)
    for benchmark, path in paths.items():
        if os.path.exists(path):
            print(report(pd.read_csv(path), benchmark, args.rule), "\n", flush=True)

if __name__ == "__main__":
    main()
