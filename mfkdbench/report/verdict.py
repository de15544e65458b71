"""The verdict of a comparison: who wins at each checkpoint, in one sentence, generated from the statistics.

At each checkpoint (a budget multiple), over the seeds every search with a result in each seed ran:

* the *best* search is the one with the highest mean report metric; the searches *tied* with it are those whose
  paired two-sided Wilcoxon test against it is not significant after Holm's correction (below);
* the *reference* (mfkd, else its closest method, :func:`mfkdbench.report.render.choose_reference`) is placed by
  its position in that order (1 = best mean), its mean difference to the best in percentage points and that
  test's Holm p-value;
* against the best search of each family (its own: the best other member), the reference *wins*, *ties* or
  *loses*: a significant test is a win or a loss by the sign of the median paired difference (the mean difference
  where the median is 0).

Every test of a checkpoint (the best against each other search, the reference against each family's best) is
one paired two-sided Wilcoxon signed-rank test per distinct pair, and Holm's correction runs over all of them
together, so a pair named twice gets one p-value and one answer.

:func:`verdict_table` is the tidy table of all of this (``verdict.csv``), :func:`verdict_text` its sentence per
checkpoint; the Markdown, the HTML page and ``compare``'s output show that same text.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mfkdbench.report.stats import holm, wilcoxon_vs_reference
from mfkdbench.report.summary import checkpoint_column

ALPHA = 0.05
COLUMNS = ["checkpoint_s", "budget_multiple", "role", "optimizer", "family", "mean_pct", "diff_pp", "p_holm",
           "outcome", "rank", "of", "seeds"]


def _scores(outcome: pd.DataFrame, column: str) -> tuple[pd.DataFrame, list[str]]:
    """Seeds x searches at ``column``; searches without a result in some seed are left out (and returned)."""
    wide = outcome.pivot(index="seed", columns="optimizer", values=column)
    waiting = sorted(wide.columns[wide.isna().any()])
    return wide.drop(columns=waiting).dropna(), waiting


def _paired_tests(scores: pd.DataFrame, pairs: list[tuple[str, str]]) -> dict[frozenset, dict]:
    """Paired two-sided Wilcoxon tests of the distinct ``pairs`` (a, b), Holm-corrected over all of them
    together: frozenset({a, b}) -> p_holm, significant and the median of (b - a)."""
    distinct = list(dict.fromkeys(frozenset(p) for p in pairs if p[0] != p[1]))
    raw = []
    for pair in distinct:
        a, b = sorted(pair)
        test = wilcoxon_vs_reference(scores[[a, b]], a, ALPHA).iloc[0]
        raw.append((a, float(test.median_diff), float(test.p_value)))
    adjusted = holm([p for _, _, p in raw]) if raw else []
    return {pair: {"first": a, "median_diff": d, "p_holm": float(q), "significant": bool(q < ALPHA)}
            for pair, (a, d, _), q in zip(distinct, raw, adjusted)}


def _outcome(test: dict, reference: str, other: str, mean_diff: float) -> str:
    """The reference's win, tie or loss against ``other`` (``mean_diff``: reference - other)."""
    if not test["significant"]:
        return "tie"
    median = test["median_diff"] if test["first"] == other else -test["median_diff"]  # reference - other
    return "win" if (np.sign(median) or np.sign(mean_diff)) > 0 else "loss"


def checkpoint_verdict(scores: pd.DataFrame, reference: str | None, families_of: dict[str, str]) -> list[dict]:
    """Rows of :func:`verdict_table` for one checkpoint (without its time columns)."""
    means = scores.mean().sort_values(ascending=False, kind="stable")
    if means.empty:
        return []
    order = {name: i + 1 for i, name in enumerate(means.index)}
    best = means.index[0]

    def row(role, name, diff=math.nan, p=math.nan, outcome=""):
        return {"role": role, "optimizer": name, "family": families_of.get(name, ""), "mean_pct": means[name],
                "diff_pp": diff, "p_holm": p, "outcome": outcome, "rank": order[name], "of": len(means),
                "seeds": len(scores)}

    family_best = {}
    if reference in means:
        for name in means.index:  # best first
            fam = families_of.get(name, "")
            if name != reference and fam not in family_best:
                family_best[fam] = name
    others = [family_best[f] for f in sorted(family_best)]
    pairs = [(best, n) for n in means.index] + [(reference, n) for n in others]
    tests = _paired_tests(scores, pairs) if len(scores) >= 2 else {}
    rows = [row("best", best)]
    for name in means.index[1:]:
        test = tests.get(frozenset((best, name)))
        if test is not None and not test["significant"]:
            rows.append(row("tied", name, means[name] - means[best], test["p_holm"]))
    if reference is None or reference not in means:
        return rows
    p_best = tests.get(frozenset((best, reference)), {}).get("p_holm", math.nan)
    rows.append(row("reference", reference, means[reference] - means[best], p_best))
    for name in others:
        test = tests.get(frozenset((reference, name)))
        if test is not None:
            diff = means[reference] - means[name]
            rows.append(row("family-best", name, diff, test["p_holm"], _outcome(test, reference, name, diff)))
    return rows


def verdict_table(outcome: pd.DataFrame, reference: str | None, families_of: dict[str, str],
                  checkpoints_s: tuple[float, ...], budget_s: float) -> pd.DataFrame:
    """The verdict at every checkpoint (the budget when there are none) as a tidy table (module docstring):
    ``role`` is best, tied, reference or family-best; ``diff_pp`` is the reference minus the family's best (for
    family-best rows) or the search minus the best (else); ``outcome`` is the reference's win, tie or loss."""
    rows = []
    for c in checkpoints_s or (budget_s,):
        column = checkpoint_column(c) if checkpoints_s else "final"
        scores, waiting = _scores(outcome, column)
        for r in checkpoint_verdict(scores, reference, families_of):
            rows.append({"checkpoint_s": float(c), "budget_multiple": c / budget_s, **r})
        for name in waiting:
            rows.append({"checkpoint_s": float(c), "budget_multiple": c / budget_s, "role": "no result yet",
                         "optimizer": name, "family": families_of.get(name, "")})
    return pd.DataFrame(rows, columns=COLUMNS)


def _multiple(x: float) -> str:
    return f"{x:g}x budget"


def _p(p: float) -> str:
    return "p = n/a" if not np.isfinite(p) else f"Holm p = {p:.2g}"


#: searches tied with the best named in the sentence, the closest first (verdict.csv lists every one)
TIED_NAMED = 5


def checkpoint_sentence(rows: pd.DataFrame, reference: str | None, why_reference: str = "") -> str:
    """The sentence of one checkpoint's rows of :func:`verdict_table`."""
    c, seeds = rows.iloc[0], rows.seeds.dropna()
    head = f"At {_multiple(c.budget_multiple)} ({c.checkpoint_s:,.0f} s, {int(seeds.iloc[0]) if len(seeds) else 0} seeds)"
    best = rows[rows.role == "best"]
    if best.empty:
        return f"{head}: no search has a result in every seed yet."
    b = best.iloc[0]
    tied = rows[rows.role == "tied"]
    text = f"{head}: best {b.optimizer} ({b.mean_pct:.2f} %)"
    if len(tied):
        closest = tied.sort_values("diff_pp", ascending=False, kind="stable")
        more = len(tied) - TIED_NAMED if len(tied) > TIED_NAMED + 1 else 0
        text += (", tied within noise (paired Wilcoxon, Holm p >= 0.05) with " + (f"{len(tied)} searches, " if more else "")
                 + ", ".join(f"{t.optimizer} ({t.diff_pp:+.2f} pp)" for t in closest.head(len(tied) - more).itertuples())
                 + (f" and {more} more (verdict.csv)" if more else ""))
    else:
        text += ", better than every other search (paired Wilcoxon, Holm p < 0.05)" if b.of > 1 else ""
    text += "."
    ref = rows[rows.role == "reference"]
    if reference is not None and ref.empty:
        text += f" {reference} has no result in every seed yet."
    if len(ref):
        r = ref.iloc[0]
        name = r.optimizer + (f" ({why_reference})" if why_reference else "")
        if r.optimizer == b.optimizer:
            text += f" {name} is that best search"
        else:
            text += (f" {name} ranks {int(r['rank'])} of {int(r.of)} by mean, {r.diff_pp:+.2f} pp vs {b.optimizer} "
                     f"({_p(r.p_holm)}, {'tied' if r.optimizer in set(tied.optimizer) else 'worse'})")
        fams = rows[rows.role == "family-best"]
        if len(fams):
            verbs = {"win": "wins against", "tie": "ties with", "loss": "loses to"}
            text += "; against each family's best it " + "; ".join(
                f"{verbs[f.outcome]} {f.family or 'unlabelled'} ({f.optimizer}, {f.diff_pp:+.2f} pp, {_p(f.p_holm)})"
                for f in fams.itertuples())
        text += "."
    waiting = rows[rows.role == "no result yet"]
    if len(waiting):
        text += " No result yet in every seed: " + ", ".join(waiting.optimizer) + "."
    return text


def verdict_text(table: pd.DataFrame, reference: str | None, why_reference: str = "") -> list[str]:
    """One sentence per checkpoint, in time order."""
    return [checkpoint_sentence(rows, reference, why_reference)
            for _, rows in table.groupby("checkpoint_s", sort=True)]


def verdict_markdown(table: pd.DataFrame, reference: str | None, why_reference: str = "") -> str:
    """The verdict as a Markdown list under a bold lead."""
    lines = verdict_text(table, reference, why_reference)
    return "**Verdict** (generated from the paired tests, `verdict.csv`):\n\n" + "\n".join(f"- {s}" for s in lines) + "\n"
