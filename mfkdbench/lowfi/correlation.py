"""Rank correlation of each low fidelity with the 200-epoch test accuracy (the ``correlation`` command).

Beside the correlations, each row gives the share of the true top 1 % (by the
200-epoch test accuracy, over the cells the row uses) that the fidelity's own
top 1 % holds: ``top1%``, counting a tie at the cut as the expected share of a
random tie-break (params and FLOPs tie in large groups).

Spearman and Kendall (tau-b) from :mod:`scipy.stats`, with percentile
bootstrap confidence intervals over cells (resampling cells with replacement,
seeded). A resample is computed from how often it draws each cell, many
resamples at once (ranks from tie-group counts; Kendall with a Fenwick tree),
equal to ``spearmanr``/``kendalltau`` on the resampled arrays but about ten times
faster. Low fidelities: the MF-KD authors' NST runs (epoch 12 and every
epoch of their curve), NB201's 12-epoch cross-entropy schedule, for
CIFAR-10 every epoch of that schedule's curve, the training-free fidelities
(params, FLOPs, Zen, NASWOT on CIFAR-10 images; every cell) and
NAS-Bench-Suite-Zero's twelve proxies on the ~725 cells per dataset it scored
(``zc:<proxy>``, analysis only: no search uses them).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from mfkdbench.errors import UserError
from mfkdbench.inputs import MAX_BOOTSTRAP, MAX_SEED
from mfkdbench.nb201.benchmark import training_free_fidelities
from mfkdbench.nb201.space import N_ARCHS
from mfkdbench.nb201.tables import Tables, analysis_columns, canonical_dataset, load_tables
from mfkdbench.progress import progress

SUBSETS = {"all": None, "kd240": np.arange(240)}
#: NAS-Bench-Suite-Zero's file (``nb201_zc_naslib_subset``): its dataset names and proxy columns
SUITE_ZERO = "nb201_zc_naslib_subset"
SUITE_ZERO_DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
SUITE_ZERO_PROXIES = ("synflow", "nwot", "jacov", "snip", "grasp", "fisher", "grad_norm", "l2_norm", "plain",
                      "epe_nas", "flops", "params")
#: a row needs this many cells with a score (NAS-Bench-Suite-Zero scored 4 of the KD subset's 240)
MIN_CELLS = 30
#: the share of the true top this many percent that a fidelity's own top holds
TOP_PERCENT = 1.0


def low_fidelities(tables: Tables, dataset: str) -> dict[str, np.ndarray]:
    """Low-fidelity search scores by label, over all 15,625 indices (NaN where unknown)."""
    out = {}
    if tables.has(dataset, "nst12_val"):
        out["nst12 (CE+25 NST, 12 ep)"] = tables.get(dataset, "nst12_val")
    if tables.has(dataset, "val_acc_12"):
        out["ce12 (CE, 12 ep)"] = tables.get(dataset, "val_acc_12")
    if tables.has(dataset, "nst12_curve_val"):
        curve = tables.get(dataset, "nst12_curve_val")
        out.update({f"nst12@{e}": curve[:, e - 1] for e in range(1, curve.shape[1] + 1)})
    if tables.has(dataset, "curve_12"):
        curve = tables.get(dataset, "curve_12")
        out.update({f"ce12@{e}": curve[:, e - 1] for e in range(1, curve.shape[1] + 1)})
    for t in training_free_fidelities(tables, dataset):
        out[f"{t.fidelity.name} (training-free, {t.fidelity.measured_on})"] = t.scores
    return out


def suite_zero_proxies(tables: Tables, dataset: str) -> dict[str, np.ndarray]:
    """NAS-Bench-Suite-Zero's proxies of ``dataset`` as ``zc:<proxy>`` over all indices (NaN outside its ~725
    cells); empty where the data source lacks the file."""
    columns = analysis_columns(tables, SUITE_ZERO)
    if columns is None:
        return {}
    rows = np.asarray(columns["dataset"]).astype(str) == SUITE_ZERO_DATASETS[dataset]
    index = np.asarray(columns["arch_index"])[rows].astype(np.int64)
    out = {}
    for proxy in SUITE_ZERO_PROXIES:
        if proxy in columns:
            values = np.full(N_ARCHS, np.nan)
            values[index] = np.asarray(columns[proxy], dtype=np.float64)[rows]
            out[f"zc:{proxy}"] = values
    return out


def top_share(scores: np.ndarray, target: np.ndarray, percent: float = TOP_PERCENT) -> float:
    """Expected share of ``target``'s top ``percent`` % held by ``scores``' top ``percent`` % (ties at either cut
    broken at random: :func:`_top_weights`)."""
    k = max(1, math.ceil(len(scores) * percent / 100))
    return float((_top_weights(scores, k) * _top_weights(target, k)).sum() / k)


def _top_weights(values: np.ndarray, k: int) -> np.ndarray:
    """Probability of each cell to be among the ``k`` largest values when ties are broken at random."""
    cut = np.sort(values)[::-1][k - 1]
    above, tied = values > cut, values == cut
    return above + tied * (k - above.sum()) / tied.sum()


def _tie_groups(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each value among the distinct values (0 = smallest), and how many distinct values there are."""
    distinct, group = np.unique(values, return_inverse=True)
    return group, len(distinct)


def _group_weights(counts: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """``(B, n)`` resample counts -> ``(B, n_groups)`` total count of each tie group."""
    flat = (np.arange(len(counts))[:, None] * n_groups + group).ravel()
    return np.bincount(flat, weights=counts.ravel(), minlength=len(counts) * n_groups).reshape(len(counts), n_groups)


def _resampled_spearman(x, y, counts: np.ndarray) -> np.ndarray:
    """Spearman's rho of each resample (cell ``j`` drawn ``counts[b, j]`` times), equal to ``spearmanr`` on it."""
    ranks = []
    for values in (x, y):
        group, n_groups = _tie_groups(values)
        weight = _group_weights(counts, group, n_groups)
        ranks.append((np.cumsum(weight, axis=1) - (weight - 1) / 2)[:, group])  # average rank of each cell's value
    total = counts.sum(axis=1, keepdims=True)
    dx, dy = (r - (r * counts).sum(axis=1, keepdims=True) / total for r in ranks)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN for a resample of one value, as scipy gives
        return (counts * dx * dy).sum(axis=1) / np.sqrt((counts * dx * dx).sum(axis=1) * (counts * dy * dy).sum(axis=1))


def _resampled_kendall(x, y, counts: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each resample, equal to ``kendalltau`` on it.

    Cells are visited in ``x`` order, one tie group at a time; a Fenwick tree over ``y`` ranks holds the
    resample weights of the groups visited so far (one column per resample, all updated together).
    """
    gx, nx = _tie_groups(x)
    gy, ny = _tie_groups(y)
    tree = np.zeros((ny + 1, len(counts)))
    weights = counts.T.astype(float)  # (cells, resamples)
    seen, score = np.zeros(len(counts)), np.zeros(len(counts))

    def below(i: int) -> np.ndarray:  # weight visited with y rank < i
        out = np.zeros(len(counts))
        while i > 0:
            out += tree[i]
            i -= i & -i
        return out

    order = np.lexsort((gy, gx))
    start = 0
    for end in np.flatnonzero(np.diff(gx[order], append=nx)) + 1:  # one tie group of x
        members = order[start:end]
        for j in members:  # concordant minus discordant pairs with the groups visited before
            score += weights[j] * (below(gy[j]) - (seen - below(gy[j] + 1)))
        for j in members:
            i = gy[j] + 1
            while i <= ny:
                tree[i] += weights[j]
                i += i & -i
            seen += weights[j]
        start = end
    pairs = seen * (seen - 1) / 2
    ties_x, ties_y = ((w * (w - 1) / 2).sum(axis=1) for w in (_group_weights(counts, g, k) for g, k in ((gx, nx), (gy, ny))))
    with np.errstate(invalid="ignore", divide="ignore"):
        return score / np.sqrt((pairs - ties_x) * (pairs - ties_y))


#: resamples computed together (memory: a few arrays of this many times the number of cells)
_CHUNK = 250


def _bootstrap_chunks(x, y, n: int, rng: np.random.Generator):
    """Spearman and Kendall of ``n`` resamples of the cells, ``(chunk, 2)`` arrays one chunk at a time."""
    for size in [_CHUNK] * (n // _CHUNK) + ([n % _CHUNK] if n % _CHUNK else []):
        draws = rng.integers(len(x), size=(size, len(x)))
        counts = _group_weights(np.ones_like(draws), draws, len(x))
        yield np.column_stack([_resampled_spearman(x, y, counts), _resampled_kendall(x, y, counts)])


def correlation_table(dataset: str, subset: str = "all", bootstrap: int = 1000, seed: int = 0,
                      data: str | None = None, tables: Tables | None = None,
                      show_progress: bool = False) -> pd.DataFrame:
    """One row per low fidelity: cells used, Spearman and Kendall with 95% bootstrap intervals (progress on stderr
    if ``show_progress``)."""
    dataset = canonical_dataset(dataset)
    if subset not in SUBSETS:
        raise UserError(f"unknown subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    if not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise UserError(f"--bootstrap must be in 0..{MAX_BOOTSTRAP}, got {bootstrap}")
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed must be in 0..{MAX_SEED}, got {seed}")
    tables = tables or load_tables(data)
    target = tables.get(dataset, "test_acc_200")
    cells = np.arange(len(target)) if SUBSETS[subset] is None else SUBSETS[subset]
    pairs = {}
    for label, scores in {**low_fidelities(tables, dataset), **suite_zero_proxies(tables, dataset)}.items():
        keep = cells[np.isfinite(scores[cells]) & np.isfinite(target[cells])]
        if len(keep) >= MIN_CELLS:
            pairs[label] = scores[keep], target[keep]
    stats = {label: [] for label in pairs}
    steps = [(label, chunk) for label in pairs for chunk in range(math.ceil(bootstrap / _CHUNK))]
    chunks = {label: _bootstrap_chunks(*pairs[label], bootstrap, np.random.default_rng(seed)) for label in pairs}
    for label, _ in progress(steps, desc=f"correlation {dataset}: bootstrap", unit="chunk", enabled=show_progress):
        stats[label].append(next(chunks[label]))
    rows = []
    for label, (x, y) in pairs.items():
        row = {"low fidelity": label, "cells": len(x), "spearman": spearmanr(x, y)[0], "kendall": kendalltau(x, y)[0],
               f"top{TOP_PERCENT:g}%": top_share(x, y)}
        if bootstrap:
            (s_lo, k_lo), (s_hi, k_hi) = np.nanpercentile(np.concatenate(stats[label]), [2.5, 97.5], axis=0)
            row.update({"spearman 95% CI": f"[{s_lo:.3f}, {s_hi:.3f}]", "kendall 95% CI": f"[{k_lo:.3f}, {k_hi:.3f}]"})
        rows.append(row)
    if not rows:
        raise UserError(f"no low fidelity with data for {dataset} (subset {subset}) in this data source")
    return pd.DataFrame(rows)


def correlation_text(dataset: str, subset: str = "all", bootstrap: int = 1000, seed: int = 0,
                     data: str | None = None, show_progress: bool = True) -> str:
    """The table as text, with a header naming the target metric."""
    table = correlation_table(dataset, subset, bootstrap, seed, data, show_progress=show_progress)
    head = (f"rank correlation with the 200-epoch test accuracy, {canonical_dataset(dataset)}, subset {subset}, "
            f"{bootstrap} bootstrap resamples (seed {seed})")
    return head + "\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
