"""Rank correlation of each low fidelity with the 200-epoch test accuracy (the ``correlation`` command).

Spearman and Kendall (tau-b) from :mod:`scipy.stats`, with percentile
bootstrap confidence intervals over cells (resampling cells with replacement,
seeded). Low fidelities: the MF-KD authors' NST runs (epoch 12 and every
epoch of their curve), NB201's 12-epoch cross-entropy schedule, and for
CIFAR-10 every epoch of that schedule's curve.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from mfkdbench.errors import UserError
from mfkdbench.limits import MAX_BOOTSTRAP, MAX_SEED
from mfkdbench.nb201.tables import Tables, canonical_dataset, load_tables

SUBSETS = {"all": None, "kd240": np.arange(240)}


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
    return out


def _bootstrap(x, y, n: int, rng: np.random.Generator) -> np.ndarray:
    stats = np.empty((n, 2))
    for b in range(n):
        i = rng.integers(len(x), size=len(x))
        stats[b] = spearmanr(x[i], y[i])[0], kendalltau(x[i], y[i])[0]
    return np.nanpercentile(stats, [2.5, 97.5], axis=0)


def correlation_table(dataset: str, subset: str = "all", bootstrap: int = 1000, seed: int = 0,
                      data: str | None = None, tables: Tables | None = None) -> pd.DataFrame:
    """One row per low fidelity: cells used, Spearman and Kendall with 95% bootstrap intervals."""
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
    rows = []
    for label, scores in low_fidelities(tables, dataset).items():
        keep = cells[np.isfinite(scores[cells]) & np.isfinite(target[cells])]
        if len(keep) < 3:
            continue
        x, y = scores[keep], target[keep]
        row = {"low fidelity": label, "cells": len(keep), "spearman": spearmanr(x, y)[0],
               "kendall": kendalltau(x, y)[0]}
        if bootstrap:
            (s_lo, k_lo), (s_hi, k_hi) = _bootstrap(x, y, bootstrap, np.random.default_rng(seed))
            row.update({"spearman 95% CI": f"[{s_lo:.3f}, {s_hi:.3f}]", "kendall 95% CI": f"[{k_lo:.3f}, {k_hi:.3f}]"})
        rows.append(row)
    if not rows:
        raise UserError(f"no low fidelity with data for {dataset} (subset {subset}) in this data source")
    return pd.DataFrame(rows)


def correlation_text(dataset: str, subset: str = "all", bootstrap: int = 1000, seed: int = 0,
                     data: str | None = None) -> str:
    """The table as text, with a header naming the target metric."""
    table = correlation_table(dataset, subset, bootstrap, seed, data)
    head = (f"rank correlation with the 200-epoch test accuracy, {canonical_dataset(dataset)}, subset {subset}, "
            f"{bootstrap} bootstrap resamples (seed {seed})")
    return head + "\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
