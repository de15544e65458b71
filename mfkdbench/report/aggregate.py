"""Every search over all benchmarks: average rank and normalised regret at each budget multiple, and the
critical-difference diagram across benchmarks.

At a budget multiple ``m`` each benchmark contributes the mean report metric of every search over its seeds at
``m`` times that benchmark's budget (the incumbent then, :func:`mfkdbench.report.summary.report_at`). Per
benchmark, a search's *rank* is its place by that mean (1 = best, ties averaged) and its *normalised regret* is
``(regret - least regret) / (most regret - least regret)`` among the searches there (0 = the best search, 1 =
the worst; 0 for all when they are equal). Both are averaged over the benchmarks. Only searches that ran on
every benchmark are ranked (the others are listed); the diagram's blocks are the benchmarks, so with a handful
of benchmarks its critical difference is wide.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mfkdbench.report import figures, style
from mfkdbench.report.stats import friedman
from mfkdbench.report.summary import markdown, report_at

import matplotlib.pyplot as plt  # noqa: E402 (after figures, which picks the Agg backend)

#: budget multiples of the aggregate (the head-to-head checkpoints)
MULTIPLES = (0.1, 0.3, 1.0)


def benchmark_means(runs: list, manifest: dict, multiples=MULTIPLES) -> pd.DataFrame:
    """One row per search and budget multiple of one benchmark: mean report metric over seeds and regret."""
    rows = [{"optimizer": r.optimizer, "seed": r.seed, "budget_multiple": m,
             "report_pct": report_at(r.incumbents, m * manifest["budget_s"])} for r in runs for m in multiples]
    frame = pd.DataFrame(rows).groupby(["optimizer", "budget_multiple"], as_index=False)["report_pct"].mean()
    frame["regret_pp"] = manifest["optimum"] - frame["report_pct"]
    frame.insert(0, "benchmark", manifest["benchmark"])
    return frame


def aggregate_table(per_benchmark: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Average rank and normalised regret per search and multiple over the benchmarks (module docstring);
    returns the table and the searches left out (not on every benchmark)."""
    benchmarks = per_benchmark["benchmark"].nunique()
    runs_on = per_benchmark.groupby("optimizer")["benchmark"].nunique()
    everywhere = sorted(runs_on.index[runs_on == benchmarks])
    left_out = sorted(runs_on.index[runs_on < benchmarks])
    frame = per_benchmark[per_benchmark["optimizer"].isin(everywhere)].copy()
    groups = frame.groupby(["benchmark", "budget_multiple"])
    frame["rank"] = groups["report_pct"].rank(ascending=False, method="average")
    low, high = groups["regret_pp"].transform("min"), groups["regret_pp"].transform("max")
    frame["normalised_regret"] = ((frame["regret_pp"] - low) / (high - low)).where(high > low, 0.0)
    table = frame.groupby(["budget_multiple", "optimizer"], as_index=False).agg(
        average_rank=("rank", "mean"), normalised_regret=("normalised_regret", "mean"),
        benchmarks=("benchmark", "nunique"))
    return table.sort_values(["budget_multiple", "average_rank"], kind="stable").reset_index(drop=True), left_out


def plot_aggregate(table: pd.DataFrame, families_of: dict[str, str], stem: Path, benchmarks: int) -> list[Path]:
    """Average rank (left) and normalised regret (right) against the budget multiple, one line per search."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for name in style.legend_order(table["optimizer"].unique(), families_of):
        part = table[table["optimizer"] == name]
        look = style.line_style(name, families_of.get(name, ""))
        for ax, column in zip(axes, ("average_rank", "normalised_regret")):
            ax.plot(part["budget_multiple"], part[column], label=name, **look)
    searches = table["optimizer"].nunique()
    axes[0].set_ylim(searches + 0.5, 0.5)
    axes[0].set_ylabel("average rank over benchmarks (1 = best)")
    axes[1].set_ylabel("normalised regret (0 = best search, 1 = worst)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(MULTIPLES, [f"{m:g}x" for m in MULTIPLES])
        ax.set_xlabel("budget multiple")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8.5, handlelength=3.2)
    fig.suptitle(f"Every search over {benchmarks} benchmarks, at each budget multiple", fontsize=12)
    fig.tight_layout()
    return figures.save(fig, stem)


def render_aggregate(folders: list[Path], out: Path) -> list[Path]:
    """``aggregate.{csv,md}``, ``aggregate.{png,pdf}`` and ``critical_difference_all.{png,pdf}`` in ``out`` from
    the result folders ``folders`` (at least two)."""
    from mfkdbench.experiments.store import ResultStore

    parts, families_of = [], {}
    for folder in folders:
        with ResultStore(folder, create=False) as store:
            manifest, runs = store.manifest(), store.runs()
        if manifest is None or not runs:
            continue
        parts.append(benchmark_means(runs, manifest))
        families_of.update(style.families(runs))
    if len(parts) < 2:
        return []
    per_benchmark = pd.concat(parts, ignore_index=True)
    table, left_out = aggregate_table(per_benchmark)
    if table.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    benchmarks = per_benchmark["benchmark"].nunique()
    files = [out / "aggregate.csv", out / "aggregate.md"]
    table.to_csv(files[0], index=False)
    final = per_benchmark[(per_benchmark["budget_multiple"] == MULTIPLES[-1])
                          & per_benchmark["optimizer"].isin(table["optimizer"])]
    scores = final.pivot(index="benchmark", columns="optimizer", values="report_pct")
    fr = friedman(scores)
    header = ["optimizer"] + [f"at {m:g}x: rank / norm. regret" for m in MULTIPLES]
    wide = table.pivot(index="optimizer", columns="budget_multiple")
    rows = [[name] + [f"{wide.loc[name, ('average_rank', m)]:.2f} / {wide.loc[name, ('normalised_regret', m)]:.2f}"
                      for m in MULTIPLES] for name in fr.average_ranks.index]
    text = (f"# Every search over {benchmarks} benchmarks ({', '.join(sorted(per_benchmark['benchmark'].unique()))})\n\n"
            f"Average rank (1 = best) and normalised regret (0 = best search, 1 = worst) of the mean report metric "
            f"at each budget multiple, averaged over the benchmarks; rows in order of the average rank at "
            f"{MULTIPLES[-1]:g}x (Friedman p = {fr.p_value:.3g}, Nemenyi CD = {fr.critical_difference:.2f} over "
            f"{benchmarks} benchmarks).\n\n" + markdown(header, rows))
    if left_out:
        text += f"\n- not on every benchmark, so not ranked here: {', '.join(left_out)}\n"
    files[1].write_text(text)
    files += plot_aggregate(table, families_of, out / "aggregate", benchmarks)
    if len(fr.average_ranks) >= 2:
        files += figures.plot_cd(fr.average_ranks, fr.critical_difference, out / "critical_difference_all",
                                 f"Average rank at {MULTIPLES[-1]:g}x budget over {benchmarks} benchmarks "
                                 f"(Nemenyi CD)")
    return files
