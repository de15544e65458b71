"""Figures of a comparison (seaborn on matplotlib's Agg backend), each saved as PNG and PDF.

The critical-difference diagram follows Demšar (JMLR 2006): methods on an
average-rank axis, best on the left, thick bars joining methods whose average
ranks differ by less than the Nemenyi critical difference. SciPy, seaborn and
the anchor frameworks (syne-tune, NASLib, Optuna) ship no such plot, so it is
drawn here.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mfkdbench.errors import UserError  # noqa: E402
from mfkdbench.report import style  # noqa: E402

sns.set_theme(style="whitegrid", context="paper", font_scale=1.2)


def save(fig, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``; close the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def time_grid(runs: list, budget_s: float, points: int = 200) -> np.ndarray:
    """Log-spaced simulated times from the first result of any run at one second or later (training-free scores
    come at no or almost no cost) to the budget."""
    times = [r.incumbents["time"].to_numpy() for r in runs]
    firsts = [t[t >= 1.0][0] for t in times if (t >= 1.0).any()]
    start = min(firsts) if firsts else 1.0
    return np.geomspace(start, max(budget_s, start * 10), points)


def evaluation_grid(runs: list, points: int = 200) -> np.ndarray:
    """Log-spaced whole numbers of evaluations, from 1 to the most any run made."""
    most = max([len(r.evaluations) for r in runs] + [2])
    return np.unique(np.geomspace(1, most, points).round().astype(int))


def regret_at(run, optimum: float, grid: np.ndarray, by: str = "time") -> np.ndarray:
    """Regret of the run's incumbent at each grid time or number of evaluations (NaN before its first result and
    beyond the evaluations it made)."""
    column = "time" if by == "time" else "n_evals"
    pos = np.searchsorted(run.incumbents[column].to_numpy(), grid, side="right") - 1
    regret = optimum - run.incumbents["report"].to_numpy()
    made = np.inf if by == "time" else len(run.evaluations)
    return np.where((pos >= 0) & (grid <= made), regret[np.maximum(pos, 0)], np.nan)


def regret_frame(runs: list, optimum: float, grid: np.ndarray, by: str = "time") -> pd.DataFrame:
    """Long frame: optimizer, seed, ``by`` (time or evaluations), regret."""
    parts = [pd.DataFrame({"optimizer": r.optimizer, "seed": r.seed, by: grid, "regret": regret_at(r, optimum, grid, by)})
             for r in runs]
    return pd.concat(parts, ignore_index=True)


#: band of the anytime figures: median and interquartile range, or mean and 95 % bootstrap interval
BANDS = {"iqr": "median, interquartile range", "ci": "mean, 95% bootstrap interval"}


def centre_and_band(values: np.ndarray, band: str = "iqr", resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """``(seeds, points)`` regrets -> ``(3, points)``: centre, low, high (NaN where fewer than half the seeds have a
    result). ``band``: a key of :data:`BANDS`."""
    if band not in BANDS:
        raise UserError(f"unknown band {band!r}; choose one of {', '.join(BANDS)}")
    have = np.isfinite(values).sum(axis=0)
    shown = have >= max(1, len(values) / 2)
    out = np.full((3, values.shape[1]), np.nan)
    if not shown.any():
        return out
    v = values[:, shown]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of a resample
        if band == "iqr":
            out[:, shown] = np.nanquantile(v, [0.5, 0.25, 0.75], axis=0)
        else:
            draws = np.random.default_rng(seed).integers(len(v), size=(resamples, len(v)))
            counts = np.stack([np.bincount(d, minlength=len(v)) for d in draws]).astype(float)  # seed draws
            have = np.isfinite(v)
            means = (counts @ np.where(have, v, 0.0)) / (counts @ have)  # (resamples, points), NaN-aware
            out[0, shown] = np.nanmean(v, axis=0)
            out[1:, shown] = np.nanpercentile(means, [2.5, 97.5], axis=0)
    return out


def _fmt_x(x: float, by: str) -> str:
    if by != "time":
        return f"{int(round(x))} evaluations"
    return f"{x:,.0f} s" if x < 1e5 else f"{x:.2g} s".replace("e+0", "e").replace("e+", "e")


def coincidences(curves: dict[str, np.ndarray], grid: np.ndarray, by: str, min_share: float = 0.25) -> dict[str, str]:
    """Legend notes for curves drawn on top of an earlier one: ``"= random"`` (everywhere) or
    ``"= random until 12,000 s"`` (over at least ``min_share`` of the points where both are shown)."""
    notes, names = {}, list(curves)
    for j, name in enumerate(names):
        best = (0, None)
        for other in names[:j]:
            a, b = curves[name], curves[other]
            both = np.isfinite(a) & np.isfinite(b)
            if not both.any():
                continue
            first = np.argmax(both)
            same = np.isclose(a[first:], b[first:], atol=1e-9) & both[first:]
            length = len(same) if same.all() else int(np.argmin(same))
            if length > best[0]:
                best = (length, other, first)
        if best[1] is None:
            continue
        length, other, first = best
        visible = int(np.isfinite(curves[name]).sum())
        if length >= visible:
            notes[name] = f"= {other}"
        elif length >= min_share * visible:
            notes[name] = f"= {other} until {_fmt_x(grid[first + length - 1], by)}"
    return notes


def _regret_axis(ax, lows: np.ndarray, highs: np.ndarray) -> float | None:
    """Y range from the data: log when the positive values span more than a decade and a half, else linear;
    returns the log axis' floor (where regret 0 is drawn) or None."""
    values = np.concatenate([lows[np.isfinite(lows)], highs[np.isfinite(highs)]])
    positive = values[values > 0]
    if len(positive) and positive.max() / positive.min() > 30:
        floor = positive.min() / 1.5
        ax.set_yscale("log")
        ax.set_ylim(floor, positive.max() * 1.5)
        return floor
    top = values.max() if len(values) else 1.0
    ax.set_ylim(min(0.0, values.min()) - 0.04 * top, top * 1.06 + 1e-6)
    return None


def anytime_stats(frame: pd.DataFrame, by: str, band: str, families_of: dict[str, str]) -> tuple[np.ndarray, dict]:
    """The grid and, per optimizer (legend order), its ``(3, points)`` centre and band (:func:`centre_and_band`)."""
    grid = np.sort(frame[by].unique())
    stats = {}
    for name in style.legend_order(frame["optimizer"].unique(), families_of):
        wide = frame[frame["optimizer"] == name].pivot_table(index="seed", columns=by, values="regret", dropna=False)
        stats[name] = centre_and_band(wide.reindex(columns=grid).to_numpy(), band)
    return grid, stats


def family_panels(names, families_of: dict[str, str], final: dict[str, float]) -> list[tuple[str, list, list]]:
    """One panel per family present (:data:`~mfkdbench.report.style.FAMILIES` order, unknown families after):
    ``(family, searches drawn in colour, searches drawn in grey)``. In colour: the family's searches and MF-KD
    with its ablations; in grey: the best search (lowest ``final`` value) of every other family."""
    present = sorted({families_of.get(n, "") for n in names},
                     key=lambda f: (style.FAMILIES.index(f) if f in style.FAMILIES else len(style.FAMILIES), f))
    best = {}
    for name in sorted(names, key=lambda n: (final.get(n, np.inf), n)):
        best.setdefault(families_of.get(name, ""), name)
    panels = []
    for fam in present:
        coloured = [n for n in names if families_of.get(n, "") == fam or style.is_highlighted(n)]
        grey = [best[f] for f in present if f != fam and best[f] not in coloured]
        panels.append((fam, coloured, grey))
    return panels


def _final_values(stats: dict) -> dict[str, float]:
    """Each curve's last shown value (what "best of a family" is judged by)."""
    out = {}
    for name, s in stats.items():
        shown = s[0][np.isfinite(s[0])]
        out[name] = float(shown[-1]) if len(shown) else np.inf
    return out


def _markevery(values: np.ndarray) -> float | None:
    """A marker at every 12 % of a curve's length; none on a curve with fewer than two finite points (matplotlib's
    fractional ``markevery`` fails on an empty path: a search whose every point is off a log axis)."""
    return 0.12 if np.isfinite(values).sum() > 1 else None


def draw_anytime(ax, grid: np.ndarray, stats: dict, by: str, families_of: dict[str, str], names=None,
                 context=(), floor: float | None = None, bands: bool = True) -> tuple[dict, bool]:
    """Centre line (and band) of ``names`` (default all of ``stats``) on ``ax``, and of ``context`` in grey without
    a band; ``floor``: the log axis' floor (regret 0 is marked there by a triangle). Returns the legend label of
    each drawn curve and whether a centre line reached regret 0."""
    names = list(stats) if names is None else names
    notes = coincidences({n: stats[n][0] for n in names}, grid, by)
    labels, reached = {}, False
    for name in [*context, *names]:
        centre, low, high = stats[name]
        grey = name in context
        look = (style.context_style if grey else style.line_style)(name, families_of.get(name, ""))
        shown = centre.copy()
        if floor is not None:  # regret 0 has no place on a log axis: stop the line, mark where it got there
            zero = np.flatnonzero(shown <= 0)
            shown[shown <= 0] = np.nan
            low = np.maximum(low, floor)
            if len(zero):
                reached = True
                ax.plot(grid[zero[0]], floor, marker="v", ms=7, color=look["color"], clip_on=False, zorder=6)
        labels[name] = name + (" (best of its family)" if grey else "") + (f" ({notes[name]})" if name in notes else "")
        ax.plot(grid, shown, label=labels[name], markevery=_markevery(shown), **look)
        if bands and not grey:
            ax.fill_between(grid, low, high, color=look["color"], alpha=0.10, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("simulated time (s)" if by == "time" else "evaluations")
    return labels, reached


def _zero_note(ax, reached: bool) -> None:
    if reached:
        ax.annotate("\u25bc regret 0 (optimum found)", xy=(1, 0), xycoords="axes fraction", xytext=(-4, 4),
                    textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.3")


def _panel_grid(n: int, width: float = 6.0, height: float = 5.4):
    """``n`` panels, two per row (one if ``n`` is 1), room under each for its legend."""
    cols = 1 if n == 1 else 2
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.7), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _panel_legend(ax) -> None:
    """The panel's legend under its x axis, two columns."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False, fontsize=8.5, ncol=2,
              handlelength=3.2, columnspacing=1.2)


def plot_anytime(frame: pd.DataFrame, stem: Path, title: str, metric: str, families_of: dict[str, str],
                 by: str = "time", band: str = "iqr") -> list[Path]:
    """Anytime regret against simulated time or evaluations (log axis), one panel per family
    (:func:`family_panels`), the same y axis in all; band per ``band``."""
    grid, stats = anytime_stats(frame, by, band, families_of)
    panels = family_panels(list(stats), families_of, _final_values(stats))
    fig, axes = _panel_grid(len(panels))
    lows = np.concatenate([s[1] for s in stats.values()])
    highs = np.concatenate([s[2] for s in stats.values()])
    reached = False
    for ax, (fam, coloured, grey) in zip(axes, panels):
        floor = _regret_axis(ax, lows, highs)
        reached |= draw_anytime(ax, grid, stats, by, families_of, coloured, grey, floor)[1]
        ax.set_xlim(grid[0], grid[-1])  # the same time axis in every panel
        ax.set_title(f"{fam or 'unlabelled'} ({sum(families_of.get(n, '') == fam for n in coloured)} searches)",
                     fontsize=11)
        ax.set_ylabel(f"regret of {metric} (pp)")
        _panel_legend(ax)
    _zero_note(axes[-1], reached)
    fig.suptitle(f"{title}\nper family; grey: the best search of each other family; MF-KD and its ablations in "
                 "every panel", fontsize=12)
    fig.tight_layout()
    return save(fig, stem)


def plot_anytime_panels(panels: list[dict], stem: Path, title: str, band: str = "iqr") -> list[Path]:
    """One panel per comparison (``panels``: dicts with ``title``, a ``time`` frame, ``families`` and ``metric``):
    regret against time of the best search of each family and of MF-KD and its ablations, the median as a line
    and the band of MF-KD (or its closest method) only, so that no band covers the others."""
    fig, axes = _panel_grid(len(panels), width=5.2, height=3.6)
    legend = {}
    for ax, panel in zip(axes, panels):
        grid, stats = anytime_stats(panel["time"], "time", band, panel["families"])
        final = _final_values(stats)
        best = {}
        for name in sorted(stats, key=lambda n: (final[n], n)):
            best.setdefault(panel["families"].get(name, ""), name)
        names = style.legend_order({*best.values(), *(n for n in stats if style.is_highlighted(n))}, panel["families"])
        floor = _regret_axis(ax, np.concatenate([stats[n][1] for n in names]),
                             np.concatenate([stats[n][2] for n in names]))
        labels, _ = draw_anytime(ax, grid, stats, "time", panel["families"], names, floor=floor, bands=False)
        main = next((n for n in names if style.is_highlighted(n)), None)
        if main is not None:
            ax.fill_between(grid, np.maximum(stats[main][1], floor or -np.inf), stats[main][2],
                            color=style.optimizer_color(main), alpha=0.12, lw=0)
        ax.set_title(panel["title"], fontsize=11)
        ax.set_ylabel(f"regret of {panel['metric']} (pp)")
        handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
        for name in names:
            legend.setdefault(f"{name} ({panel['families'].get(name) or 'unlabelled'})", handles[labels[name]])
    fig.suptitle(f"{title}: the best search of each family, MF-KD and its ablations\n({BANDS[band].split(',')[0]}; "
                 f"band: MF-KD or its closest method; \u25bc: regret 0 reached)", fontsize=11)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=3, frameon=False, fontsize=9,
               bbox_to_anchor=(0.5, 0.0), handlelength=3.2)
    fig.tight_layout(rect=(0, 0.05 + 0.028 * (len(legend) // 3), 1, 0.96))
    return save(fig, stem)


def rank_over_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Average rank (1 = lowest regret) per optimizer and time over the seeds every optimizer ran; a search without
    a result yet in a seed ranks below every search that has one there, and its average is NaN (not shown) until
    it has a result in every seed."""
    wide = frame.pivot_table(index=["seed", "time"], columns="optimizer", values="regret", dropna=False)
    waiting = wide.isna().groupby(level="time").any()
    ranks = wide.fillna(np.inf).rank(axis=1, method="average").groupby(level="time").mean()
    return ranks.mask(waiting)


def plot_ranks(frame: pd.DataFrame, stem: Path, title: str, families_of: dict[str, str]) -> list[Path]:
    """Average rank over simulated time (1 = best, at the top), one panel per family (:func:`family_panels`);
    each curve starts at the time its search has a result in every seed, where it is marked."""
    ranks = rank_over_time(frame)
    final = {n: float(ranks[n].dropna().iloc[-1]) if ranks[n].notna().any() else np.inf for n in ranks.columns}
    panels = family_panels(style.legend_order(ranks.columns, families_of), families_of, final)
    fig, axes = _panel_grid(len(panels))
    for ax, (fam, coloured, grey) in zip(axes, panels):
        notes = coincidences({n: ranks[n].to_numpy() for n in coloured}, ranks.index.to_numpy(), "time")
        for name in [*grey, *coloured]:
            look = (style.context_style if name in grey else style.line_style)(name, families_of.get(name, ""))
            label = name + (" (best of its family)" if name in grey else "") + (f" ({notes[name]})" if name in notes else "")
            ax.plot(ranks.index, ranks[name], label=label, markevery=_markevery(ranks[name].to_numpy()), **look)
            first = ranks[name].first_valid_index()
            if first is not None:
                ax.plot(first, ranks.loc[first, name], marker="|", ms=12, mew=2, color=look["color"], zorder=look["zorder"])
        ax.set_xscale("log")
        ax.set_xlim(ranks.index[0], ranks.index[-1])  # the same time axis in every panel
        ax.set_ylim(len(ranks.columns) + 0.5, 0.5)
        ax.set_title(f"{fam or 'unlabelled'}", fontsize=11)
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel("average rank (1 = best)")
        _panel_legend(ax)
    fig.suptitle(f"{title}\nper family; grey: the best search of each other family; a curve starts (|) once its "
                 "search has a result in every seed: before that it has no result yet", fontsize=12)
    fig.tight_layout()
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
    """Critical-difference diagram of average ranks (sorted ascending, 1 = best); a CD wider than the axis is
    drawn to its end and says so."""
    k = len(ranks)
    lo, hi = 1, max(k, 2)
    half = (k + 1) // 2
    cliques = _cliques(ranks, cd)
    drop = 0.3 + 0.12 * len(cliques)  # labels start below the clique bars
    fig, ax = plt.subplots(figsize=(8, 1.7 + 0.3 * half + 0.1 * len(cliques)))
    ax.set_xlim(lo - 0.3, hi + 0.3)
    ax.set_ylim(-(half * 0.55 + drop + 0.3), 1.9)
    ax.axis("off")
    ax.hlines(0, lo, hi, color="black", lw=1)
    for t in range(lo, hi + 1):
        ax.vlines(t, 0, 0.15, color="black", lw=1)
        ax.text(t, 0.3, str(t), ha="center", va="bottom", fontsize=10)
    if np.isfinite(cd):
        end = min(lo + cd, hi)
        ax.hlines(1.2, lo, end, color="black", lw=1.5)
        ax.vlines([lo, end], 1.1, 1.3, color="black", lw=1.5)
        wider = " (wider than the axis: no pair differs)" if lo + cd > hi else ""
        ax.text((lo + end) / 2, 1.35, f"CD = {cd:.2f}{wider}", ha="center", va="bottom", fontsize=10)
    for i, (name, r) in enumerate(ranks.items()):
        left = i < half
        row = i if left else k - 1 - i
        y = -(row + 1) * 0.55 - drop
        x_text = lo - 0.2 if left else hi + 0.2
        ax.plot([r, r, x_text], [0, y, y], color="0.3", lw=0.9)
        ax.plot(r, 0, marker="o", ms=6, color=style.optimizer_color(name), zorder=4)
        ax.text(x_text + (-0.05 if left else 0.05), y, f"{name} ({r:.2f})", ha="right" if left else "left",
                va="center", fontsize=10)
    for n, (i, j) in enumerate(cliques):
        y = -0.18 - 0.12 * n
        ax.hlines(y, ranks.iloc[i] - 0.03, ranks.iloc[j] + 0.03, color="black", lw=3.5)
    ax.set_title(title, fontsize=11, pad=10)
    return save(fig, stem)


def fidelity_split(runs: list) -> tuple[pd.DataFrame, pd.Series]:
    """Mean share of simulated cost per fidelity (optimizers x fidelities), and the mean number of evaluations,
    for every optimizer."""
    shares, counts = [], []
    for r in runs:
        cost = r.evaluations.groupby("fidelity")["cost"].sum()
        if cost.sum() > 0:
            shares.append((cost / cost.sum()).rename(r.optimizer))
            counts.append((r.optimizer, len(r.evaluations)))
    if not shares:
        return pd.DataFrame(), pd.Series(dtype=float)
    frame = pd.DataFrame(shares).fillna(0.0)
    evaluations = pd.DataFrame(counts, columns=["optimizer", "n"]).groupby("optimizer")["n"].mean()
    return frame.groupby(level=0).mean(), evaluations


def plot_fidelity_split(split: pd.DataFrame, evaluations: pd.Series, stem: Path, title: str, order: dict[str, int],
                        families_of: dict[str, str]) -> list[Path]:
    """Stacked bars: how each optimizer split its simulated time between fidelities (in ``order``), with its mean
    number of evaluations; fidelity colours from :func:`mfkdbench.report.style.fidelity_color`."""
    fids = sorted(split.columns, key=lambda f: (order.get(f, len(order)), f))
    names = style.legend_order(split.index, families_of)[::-1]  # first at the top
    split = split.loc[names, fids]
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.42 * len(split)))
    left = np.zeros(len(split))
    for fid in fids:
        ax.barh(split.index, split[fid], left=left, color=style.fidelity_color(fid), label=fid, edgecolor="white", lw=0.5)
        left += split[fid].to_numpy()
    for y, name in enumerate(split.index):
        ax.text(1.01, y, f"{evaluations[name]:.0f} eval.", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of simulated time (mean over seeds); right: mean number of evaluations")
    ax.set_title(title)
    ax.legend(title="fidelity", loc="upper left", bbox_to_anchor=(1.12, 1), frameon=False,
              ncol=2 if len(fids) > 8 else 1, fontsize=8)
    return save(fig, stem)


def plot_correlation(panels: list[dict], stem: Path, title: str) -> list[Path]:
    """Scatter of low-fidelity score vs 200-epoch accuracy, one panel per low fidelity.

    ``panels``: dicts with ``x``, ``y`` (arrays), ``xlabel``, ``ylabel``, ``label`` (the panel title,
    e.g. with the rank correlations) and ``fidelity`` (its colour, :func:`mfkdbench.report.style.fidelity_color`).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.0), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], panels):
        sns.scatterplot(x=p["x"], y=p["y"], ax=ax, s=14, alpha=0.7, edgecolor=None,
                        color=style.fidelity_color(p["fidelity"]))
        ax.set_xlabel(p["xlabel"])
        ax.set_ylabel(p["ylabel"])
        ax.set_title(p["label"], fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, stem)
