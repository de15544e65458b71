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


def report_at(incumbents: pd.DataFrame, seconds: float) -> float:
    """Report metric of the incumbent at simulated time ``seconds`` (NaN before the first result)."""
    times = incumbents["time"].to_numpy()
    i = int(np.searchsorted(times, seconds + _EPS, side="right")) - 1
    return float(incumbents["report"].to_numpy()[i]) if i >= 0 else math.nan


def checkpoint_column(seconds: float) -> str:
    """Outcome column of the report metric at a checkpoint: ``final@40000``."""
    return f"final@{seconds:.0f}"


def outcomes(runs: list, optimum: float, target_regret: float = DEFAULT_TARGET_REGRET,
             checkpoints_s: tuple[float, ...] = ()) -> pd.DataFrame:
    """One row per run: final report metric, regret, times to optimum/target, overhead, cost split, the report
    metric at each checkpoint, and evaluations and simulated seconds per fidelity (``evals:F``, ``time:F``)."""
    rows = []
    for r in runs:
        row = {
            "optimizer": r.optimizer, "seed": r.seed, "final": r.final_report, "regret": optimum - r.final_report,
            "t_optimum": time_to_regret(r.incumbents, optimum, 0.0),
            "t_target": time_to_regret(r.incumbents, optimum, target_regret),
            "overhead_s": r.overhead_s, "evaluations": len(r.evaluations),
        }
        row.update({checkpoint_column(c): report_at(r.incumbents, c) for c in checkpoints_s})
        per = r.evaluations.groupby("fidelity", sort=False)["cost"].agg(["size", "sum"])
        for fid, (n, t) in per.iterrows():
            row[f"evals:{fid}"], row[f"time:{fid}"] = int(n), float(t)
        rows.append(row)
    base = ["optimizer", "seed", "final", "regret", "t_optimum", "t_target", "overhead_s", "evaluations"]
    frame = pd.DataFrame(rows, columns=base + [checkpoint_column(c) for c in checkpoints_s])
    extra = pd.DataFrame(rows).filter(regex="^(evals|time):")
    return pd.concat([frame, extra.fillna(0.0)], axis=1) if len(rows) else frame


def paired_scores(outcome: pd.DataFrame, column: str = "final") -> pd.DataFrame:
    """``column`` with one row per seed and one column per optimizer, over the seeds every optimizer ran: the
    pairs of the paired tests (a run is paired with the other optimizers' runs of its seed, whatever the row
    order of ``outcome``)."""
    return outcome.pivot(index="seed", columns="optimizer", values=column).dropna()


def checkpoint_ranks(outcome: pd.DataFrame, column: str) -> pd.Series:
    """Average rank (1 = best, ties averaged) of each optimizer by ``column``, over the seeds every one ran."""
    scores = paired_scores(outcome, column)
    return scores.rank(axis=1, ascending=False, method="average").mean(axis=0)


def _median_time(times: pd.Series) -> float:
    """Median including runs that never got there (inf): inf when half or more never did."""
    return float(np.median(times.to_numpy())) if len(times) else math.nan


def summary_table(outcome: pd.DataFrame, seed: int = 0, checkpoints_s: tuple[float, ...] = (),
                  optimum: float = math.nan) -> pd.DataFrame:
    """Mean, std and 95 % bootstrap interval of the final metric, regret, median times and overhead per optimizer;
    at each checkpoint the mean report metric (``final@C``), regret (``regret@C``) and average rank (``rank@C``);
    mean evaluations per fidelity (``evals:F``) and share of simulated time per fidelity (``share:F``)."""
    ranks = {c: checkpoint_ranks(outcome, checkpoint_column(c)) for c in checkpoints_s}
    fids = [c.split(":", 1)[1] for c in outcome.columns if c.startswith("evals:")]
    rows = []
    for name, g in outcome.groupby("optimizer", sort=True):
        low, high = bootstrap_ci(g["final"].to_numpy(), seed=seed)
        row = {
            "optimizer": name, "runs": len(g), "mean": g["final"].mean(), "std": g["final"].std(ddof=1),
            "ci_low": low, "ci_high": high, "regret": g["regret"].mean(),
            "t_optimum_median": _median_time(g["t_optimum"]), "reached_optimum": int(np.isfinite(g["t_optimum"]).sum()),
            "t_target_median": _median_time(g["t_target"]), "reached_target": int(np.isfinite(g["t_target"]).sum()),
            "overhead_s": g["overhead_s"].mean(), "evaluations": g["evaluations"].mean(),
        }
        for c in checkpoints_s:
            mean = g[checkpoint_column(c)].mean()
            row.update({f"final@{c:.0f}": mean, f"regret@{c:.0f}": optimum - mean,
                        f"rank@{c:.0f}": ranks[c].get(name, math.nan)})
        total = sum(g[f"time:{f}"].sum() for f in fids)
        for f in fids:
            row[f"evals:{f}"] = g[f"evals:{f}"].mean()
            row[f"share:{f}"] = g[f"time:{f}"].sum() / total if total else math.nan
        rows.append(row)
    return pd.DataFrame(rows).sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)


def identical_rows(outcome: pd.DataFrame) -> list[list[str]]:
    """Groups of optimizers whose chosen cells' report metrics are equal in every seed (the table says so)."""
    scores = paired_scores(outcome)
    groups: dict[tuple, list[str]] = {}
    for name in scores.columns:
        groups.setdefault(tuple(scores[name].to_numpy()), []).append(name)
    return [g for g in groups.values() if len(g) > 1]


def _fmt(value, digits: int = 2) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def display_rows(table: pd.DataFrame, checkpoints_s: tuple[float, ...] = ()) -> tuple[list[str], list[list[str]]]:
    """Human columns of the summary table (the CSV keeps the raw numbers)."""
    header = ["optimizer", "runs", "final (mean ± std)", "95% CI", "regret"]
    header += [f"at {c:,.0f} s: acc / regret / rank" for c in checkpoints_s]
    header += ["time to optimum (median s)", "time to target (median s)", "evaluations per fidelity (time share)",
               "overhead (s)"]
    fids = [c.split(":", 1)[1] for c in table.columns if c.startswith("evals:")]
    rows = []
    for r in table.to_dict("records"):
        at = [f"{_fmt(r[f'final@{c:.0f}'])} / {_fmt(r[f'regret@{c:.0f}'])} / {_fmt(r[f'rank@{c:.0f}'], 1)}"
              for c in checkpoints_s]
        split = ", ".join(f"{f} {r[f'evals:{f}']:.0f} ({100 * r[f'share:{f}']:.0f}%)" for f in fids
                          if r[f"evals:{f}"] > 0)
        rows.append([r["optimizer"], _fmt(r["runs"]), f"{_fmt(r['mean'])} ± {_fmt(r['std'])}",
                     f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]", _fmt(r["regret"]), *at,
                     f"{_fmt(r['t_optimum_median'], 0)} ({r['reached_optimum']}/{r['runs']})",
                     f"{_fmt(r['t_target_median'], 0)} ({r['reached_target']}/{r['runs']})", split,
                     _fmt(r["overhead_s"], 3)])
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
