"""Figures of a comparison (seaborn on matplotlib's Agg backend), each saved as PNG and PDF.

The critical-difference diagram follows Demšar (JMLR 2006): methods on an
average-rank axis, best on the left, thick bars joining methods whose average
ranks differ by less than the Nemenyi critical difference. SciPy, seaborn and
the anchor frameworks (syne-tune, NASLib, Optuna) ship no such plot, so it is
drawn here.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="paper", font_scale=1.2)


def save(fig, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``; close the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def _palette(names) -> dict:
    names = sorted(set(names))
    return dict(zip(names, sns.color_palette("tab10" if len(names) <= 10 else "tab20", len(names))))


def time_grid(runs: list, budget_s: float, points: int = 200) -> np.ndarray:
    """Log-spaced simulated times from the first result of any run to the budget."""
    firsts = [r.incumbents["time"].iloc[0] for r in runs if len(r.incumbents)]
    start = max(min(firsts) if firsts else 1.0, 1e-3)
    return np.geomspace(start, max(budget_s, start * 10), points)


def regret_at(run, optimum: float, grid: np.ndarray) -> np.ndarray:
    """Regret of the run's incumbent at each grid time (NaN before its first result)."""
    times = run.incumbents["time"].to_numpy()
    pos = np.searchsorted(times, grid, side="right") - 1
    regret = optimum - run.incumbents["report"].to_numpy()
    return np.where(pos >= 0, regret[np.maximum(pos, 0)], np.nan)


def regret_frame(runs: list, optimum: float, grid: np.ndarray) -> pd.DataFrame:
    """Long frame: optimizer, seed, time, regret."""
    parts = [pd.DataFrame({"optimizer": r.optimizer, "seed": r.seed, "time": grid, "regret": regret_at(r, optimum, grid)})
             for r in runs]
    return pd.concat(parts, ignore_index=True)


def plot_anytime(frame: pd.DataFrame, stem: Path, title: str, metric: str) -> list[Path]:
    """Median regret over seeds with the interquartile band, log time axis."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = _palette(frame["optimizer"])
    for name, g in frame.groupby("optimizer", sort=True):
        q = g.groupby("time")["regret"].quantile([0.25, 0.5, 0.75]).unstack()
        count = g.groupby("time")["regret"].count()
        q = q[count >= count.max() / 2]  # show a time once half of the runs have a result
        ax.plot(q.index, q[0.5], label=name, color=colors[name], lw=1.8)
        ax.fill_between(q.index, q[0.25], q[0.75], color=colors[name], alpha=0.18, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=0.1)  # log above 0.1 pp, linear down to a regret of exactly 0
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel(f"regret of {metric} (pp)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return save(fig, stem)


def rank_over_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Average rank (1 = lowest regret) per optimizer and time, over seeds that every optimizer ran."""
    wide = frame.pivot_table(index=["seed", "time"], columns="optimizer", values="regret", dropna=False)
    wide = wide.fillna(np.inf).dropna()
    ranks = wide.rank(axis=1, method="average")
    return ranks.groupby(level="time").mean()


def plot_ranks(frame: pd.DataFrame, stem: Path, title: str) -> list[Path]:
    ranks = rank_over_time(frame)
    colors = _palette(ranks.columns)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name in ranks.columns:
        ax.plot(ranks.index, ranks[name], label=name, color=colors[name], lw=1.8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("average rank (1 = best)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return save(fig, stem)


def _cliques(ranks: pd.Series, cd: float) -> list[tuple[int, int]]:
    """Maximal runs of consecutive methods (sorted by rank) spanning less than ``cd``."""
    values = ranks.to_numpy()
    spans = []
    for i in range(len(values)):
        j = i
        while j + 1 < len(values) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return spans


def plot_cd(ranks: pd.Series, cd: float, stem: Path, title: str) -> list[Path]:
    """Critical-difference diagram of average ranks (sorted ascending, 1 = best)."""
    k = len(ranks)
    lo, hi = 1, max(k, 2)
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(7.5, 1.5 + 0.3 * half))
    ax.set_xlim(lo - 0.3, hi + 0.3)
    ax.set_ylim(-(half * 0.55 + 0.6), 1.9)
    ax.axis("off")
    ax.hlines(0, lo, hi, color="black", lw=1)
    for t in range(lo, hi + 1):
        ax.vlines(t, 0, 0.15, color="black", lw=1)
        ax.text(t, 0.3, str(t), ha="center", va="bottom", fontsize=10)
    if np.isfinite(cd):
        ax.hlines(1.2, lo, lo + cd, color="black", lw=1.5)
        ax.vlines([lo, lo + cd], 1.1, 1.3, color="black", lw=1.5)
        ax.text(lo + cd / 2, 1.35, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=10)
    for i, (name, r) in enumerate(ranks.items()):
        left = i < half
        row = i if left else k - 1 - i
        y = -(row + 1) * 0.55 - 0.3
        x_text = lo - 0.2 if left else hi + 0.2
        ax.plot([r, r, x_text], [0, y, y], color="0.3", lw=0.9)
        ax.text(x_text + (-0.05 if left else 0.05), y, f"{name} ({r:.2f})", ha="right" if left else "left",
                va="center", fontsize=10)
    for n, (i, j) in enumerate(_cliques(ranks, cd)):
        y = -0.18 - 0.12 * n
        ax.hlines(y, ranks.iloc[i] - 0.03, ranks.iloc[j] + 0.03, color="black", lw=3.5)
    ax.set_title(title, fontsize=11, pad=10)
    return save(fig, stem)


def fidelity_split(runs: list) -> pd.DataFrame:
    """Mean share of simulated cost per fidelity, per optimizer (every one: a single-fidelity search is one
    colour, so low-fidelity-only searches show as such)."""
    rows = []
    for r in runs:
        cost = r.evaluations.groupby("fidelity")["cost"].sum()
        if len(cost):
            rows.append((cost / cost.sum()).rename(r.optimizer))
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows).fillna(0.0)
    return frame.groupby(level=0).mean()


def plot_fidelity_split(split: pd.DataFrame, stem: Path, title: str, order: dict[str, int]) -> list[Path]:
    """Stacked bars: how each optimizer split its simulated time between fidelities (in ``order``)."""
    order = sorted(split.columns, key=lambda f: (order.get(f, len(order)), f))
    split = split[order]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.45 * len(split)))
    colors = sns.color_palette("viridis", len(order))
    left = np.zeros(len(split))
    for color, fid in zip(colors, order):
        ax.barh(split.index, split[fid], left=left, color=color, label=fid)
        left += split[fid].to_numpy()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of simulated time")
    ax.set_title(title)
    ax.legend(title="fidelity", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False,
              ncol=2 if len(order) > 8 else 1, fontsize=8)
    return save(fig, stem)


def plot_correlation(panels: list[dict], stem: Path, title: str) -> list[Path]:
    """Scatter of low-fidelity score vs 200-epoch accuracy, one panel per low fidelity.

    ``panels``: dicts with ``x``, ``y`` (arrays), ``xlabel``, ``ylabel`` and ``label`` (the panel title,
    e.g. with the rank correlations).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.0), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], panels):
        sns.scatterplot(x=p["x"], y=p["y"], ax=ax, s=14, alpha=0.7, edgecolor=None)
        ax.set_xlabel(p["xlabel"])
        ax.set_ylabel(p["ylabel"])
        ax.set_title(p["label"], fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, stem)
