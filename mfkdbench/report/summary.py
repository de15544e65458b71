"""Per-run outcomes and the summary table of a comparison (Markdown, CSV, LaTeX).

Markdown and LaTeX are written here (a dozen lines) rather than through
pandas' ``to_markdown``/``to_latex``, which need tabulate and jinja2.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mfkdbench.report.stats import bootstrap_ci

#: default target for "time to target": regret (percentage points) at most this
DEFAULT_TARGET_REGRET = 0.5
_EPS = 1e-9


def time_to_regret(incumbents: pd.DataFrame, optimum: float, regret: float) -> float:
    """First simulated time at which the incumbent's report metric is within ``regret`` of ``optimum`` (inf if never)."""
    hit = incumbents["report"].to_numpy() >= optimum - regret - _EPS
    return float(incumbents["time"].to_numpy()[hit][0]) if hit.any() else math.inf


def outcomes(runs: list, optimum: float, target_regret: float = DEFAULT_TARGET_REGRET) -> pd.DataFrame:
    """One row per run: final report metric, regret, times to optimum/target, overhead, cost split."""
    rows = []
    for r in runs:
        rows.append({
            "optimizer": r.optimizer, "seed": r.seed, "final": r.final_report, "regret": optimum - r.final_report,
            "t_optimum": time_to_regret(r.incumbents, optimum, 0.0),
            "t_target": time_to_regret(r.incumbents, optimum, target_regret),
            "overhead_s": r.overhead_s, "evaluations": len(r.evaluations),
        })
    return pd.DataFrame(rows, columns=["optimizer", "seed", "final", "regret", "t_optimum", "t_target",
                                       "overhead_s", "evaluations"])


def _median_time(times: pd.Series) -> float:
    """Median including runs that never got there (inf): inf when half or more never did."""
    return float(np.median(times.to_numpy())) if len(times) else math.nan


def summary_table(outcome: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Mean, std and 95 % bootstrap interval of the final metric, regret, median times and overhead per optimizer."""
    rows = []
    for name, g in outcome.groupby("optimizer", sort=True):
        low, high = bootstrap_ci(g["final"].to_numpy(), seed=seed)
        rows.append({
            "optimizer": name, "runs": len(g), "mean": g["final"].mean(), "std": g["final"].std(ddof=1),
            "ci_low": low, "ci_high": high, "regret": g["regret"].mean(),
            "t_optimum_median": _median_time(g["t_optimum"]), "reached_optimum": int(np.isfinite(g["t_optimum"]).sum()),
            "t_target_median": _median_time(g["t_target"]), "reached_target": int(np.isfinite(g["t_target"]).sum()),
            "overhead_s": g["overhead_s"].mean(), "evaluations": g["evaluations"].mean(),
        })
    return pd.DataFrame(rows).sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)


def _fmt(value, digits: int = 2) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def display_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Human columns of the summary table (the CSV keeps the raw numbers)."""
    header = ["optimizer", "runs", "final (mean ± std)", "95% CI", "regret", "time to optimum (median s)",
              "time to target (median s)", "overhead (s)"]
    rows = []
    for r in table.itertuples():
        rows.append([r.optimizer, _fmt(r.runs), f"{_fmt(r.mean)} ± {_fmt(r.std)}", f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                     _fmt(r.regret), f"{_fmt(r.t_optimum_median, 0)} ({r.reached_optimum}/{r.runs})",
                     f"{_fmt(r.t_target_median, 0)} ({r.reached_target}/{r.runs})", _fmt(r.overhead_s, 3)])
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def latex(header: list[str], rows: list[list[str]], caption: str) -> str:
    """A booktabs LaTeX table."""
    def esc(text: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("%", r"\%"), ("_", r"\_"), ("&", r"\&"), ("#", r"\#"),
                     ("±", r"$\pm$")):
            text = text.replace(a, b)
        return text

    body = [" & ".join(esc(c) for c in r) + r" \\" for r in rows]
    return "\n".join([r"\begin{table}[t]", r"\centering", rf"\caption{{{esc(caption)}}}",
                      r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule",
                      " & ".join(esc(h) for h in header) + r" \\", r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}", r"\end{table}"]) + "\n"
