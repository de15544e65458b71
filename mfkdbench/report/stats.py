"""Statistics for comparing optimizers over seeds.

Tests and intervals come from SciPy (``bootstrap``, ``wilcoxon``,
``friedmanchisquare``, ``studentized_range``). Two small pieces are written
here because SciPy has none and a dependency for a few lines is not worth it:
Holm's step-down correction and the Nemenyi critical difference (Demšar, JMLR
2006), which is ``q_alpha * sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the
studentized-range quantile divided by sqrt(2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def bootstrap_ci(values, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (NaN for fewer than two values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    res = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as the input)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def wilcoxon_vs_reference(scores: pd.DataFrame, reference: str, alpha: float = 0.05) -> pd.DataFrame:
    """Paired two-sided Wilcoxon signed-rank tests of every column against ``reference``, Holm-corrected.

    ``scores``: one row per seed, one column per optimizer (higher is better).
    """
    rows = []
    for name in scores.columns:
        if name == reference:
            continue
        diff = scores[name].to_numpy() - scores[reference].to_numpy()
        if np.all(diff == 0):
            p = 1.0
        else:
            p = float(stats.wilcoxon(scores[name], scores[reference], zero_method="zsplit").pvalue)
        rows.append({"optimizer": name, "reference": reference, "median_diff": float(np.median(diff)),
                     "wins": int((diff > 0).sum()), "ties": int((diff == 0).sum()), "losses": int((diff < 0).sum()),
                     "p_value": p})
    table = pd.DataFrame(rows, columns=["optimizer", "reference", "median_diff", "wins", "ties", "losses", "p_value"])
    table["p_holm"] = holm(table["p_value"]) if len(table) else []
    table["significant"] = table["p_holm"] < alpha
    return table


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman test over optimizers (blocks = seeds) with average ranks and the Nemenyi CD."""

    statistic: float
    p_value: float
    average_ranks: pd.Series  # rank 1 = best, sorted ascending
    critical_difference: float
    n_blocks: int


def average_ranks(scores: pd.DataFrame) -> pd.Series:
    """Mean rank of each column over rows, rank 1 = highest score, ties averaged."""
    ranks = scores.rank(axis=1, ascending=False, method="average")
    return ranks.mean(axis=0).sort_values()


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks for ``k`` methods over ``n`` blocks."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n)))


def friedman(scores: pd.DataFrame, alpha: float = 0.05) -> FriedmanResult:
    """Friedman test (needs three or more optimizers; NaN otherwise) and average ranks."""
    ranks = average_ranks(scores)
    k, n = scores.shape[1], scores.shape[0]
    if k >= 3 and n >= 2 and not np.all(scores.to_numpy() == scores.to_numpy()[:, :1]):
        res = stats.friedmanchisquare(*(scores[c].to_numpy() for c in scores.columns))
        stat, p = float(res.statistic), float(res.pvalue)
    else:
        stat, p = float("nan"), float("nan")
    cd = nemenyi_cd(k, n, alpha) if k >= 2 and n >= 1 else float("nan")
    return FriedmanResult(stat, p, ranks, cd, n)
