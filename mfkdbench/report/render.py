"""Tables, statistics and figures of one stored comparison, rendered from its result store alone.

Reference of the Wilcoxon tests: the ``reference`` argument, else ``mfkd`` when
the results hold it, else ``mf-ce`` (its cross-entropy ablation, the closest
method where no KD data exists); the statistics say which and why. Without
either and without ``reference`` there are no Wilcoxon tests (never a silent
alphabetical choice).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mfkdbench.report import figures, style
from mfkdbench.errors import UserError
from mfkdbench.report.stats import friedman, wilcoxon_vs_reference
from mfkdbench.report.verdict import verdict_markdown, verdict_table
from mfkdbench.inputs import check_output_folder
from mfkdbench.experiments.store import STORE_FILE, ResultStore
from mfkdbench.report.summary import (DEFAULT_TARGET_REGRET, display_rows, identical_rows, latex, markdown, outcomes,
                                      paired_scores, summary_table)

#: MF-KD, else its cross-entropy ablation (the method with the data at hand)
PREFERRED_REFERENCES = ("mfkd", "mf-ce")


@dataclass
class Rendered:
    """What :func:`render` wrote and the text to show in the terminal."""

    folder: Path
    text: str
    files: list[Path]


def match_label(reference: str, names) -> str | None:
    """``reference`` as one of the search labels ``names``: the same label, or the only ``reference@FIDELITY``
    (``rea`` for ``rea@200``); None if there is none or several."""
    if reference in names:
        return reference
    hits = [n for n in names if n.split("@", 1)[0] == reference]
    return hits[0] if len(hits) == 1 else None


def choose_reference(names: list[str], reference: str | None = None) -> tuple[str | None, str]:
    """The Wilcoxon reference and why: ``reference`` if given (:func:`match_label`), else mfkd, else mf-ce,
    else ``None`` (no Wilcoxon tests)."""
    if reference is not None:
        label = match_label(reference, names)
        if label is None:
            raise UserError(f"reference optimizer {reference!r} is not in the results; they hold {', '.join(names)}")
        return label, "given with --reference"
    if "mfkd" in names:
        return "mfkd", "the method under study, which ran here"
    if "mf-ce" in names:
        return "mf-ce", ("mfkd did not run here (no nst12 knowledge-distillation fidelity on this benchmark): "
                         "its cross-entropy ablation mf-ce is the closest method")
    return None, "neither mfkd nor mf-ce is in the results and no --reference was given: no Wilcoxon tests"


def short_reason(reference: str | None, given: str | None) -> str:
    """Why the verdict places ``reference``, in a few words ('' for mfkd itself or a given reference)."""
    if reference is None or given is not None or reference == "mfkd":
        return ""
    return "the closest method to mfkd, which did not run here"


def _stats_text(scores: pd.DataFrame, reference: str | None, why: str, metric: str) -> tuple[str, pd.DataFrame, object]:
    lines = [f"## Statistics ({metric}, {len(scores)} seeds that every optimizer ran)\n",
             f"Reference: **{reference or 'none'}** ({why}).\n"]
    testable = reference is not None and scores.shape[1] >= 2 and len(scores) >= 2
    wil = wilcoxon_vs_reference(scores, reference) if testable else None
    if wil is not None:
        lines.append(f"Wilcoxon signed-rank tests against **{reference}**, Holm-corrected (alpha = 0.05):\n")
        rows = [[r.optimizer, f"{r.median_diff:+.3f}", f"{r.wins}/{r.ties}/{r.losses}", f"{r.p_value:.3g}",
                 f"{r.p_holm:.3g}", "yes" if r.significant else "no"] for r in wil.itertuples()]
        lines.append(markdown(["optimizer", "median diff vs ref", "wins/ties/losses", "p", "p (Holm)", "significant"],
                              rows))
    fr = friedman(scores)
    lines.append(f"Friedman test: chi2 = {fr.statistic:.3f}, p = {fr.p_value:.3g}; Nemenyi CD = "
                 f"{fr.critical_difference:.3f} (alpha = 0.05, {scores.shape[1]} optimizers, {fr.n_blocks} seeds)\n")
    lines.append(markdown(["optimizer", "average rank"], [[n, f"{r:.3f}"] for n, r in fr.average_ranks.items()]))
    return "\n".join(lines), wil, fr


def render(folder: str | Path, reference: str | None = None,
           target_regret: float = DEFAULT_TARGET_REGRET, band: str = "iqr") -> Rendered:
    """Write summary tables, statistics and figures of the results in ``folder`` (``band``: a key of
    :data:`mfkdbench.report.figures.BANDS`)."""
    if band not in figures.BANDS:
        raise UserError(f"unknown band {band!r}; choose one of {', '.join(figures.BANDS)}")
    folder = Path(folder)
    with ResultStore(folder, create=False) as store:
        check_output_folder(folder, "results folder", OUTPUT_FILES)
        check_output_folder(folder / "figures", "the figures folder")
        manifest, runs = store.manifest(), store.runs()
    if not runs or manifest is None:
        raise UserError(f"no finished cells in {folder / STORE_FILE}")
    bench, metric, optimum = manifest["benchmark"], manifest["report_metric"], manifest["optimum"]
    checkpoints = tuple(manifest.get("checkpoints_s") or ())
    out = outcomes(runs, optimum, target_regret, checkpoints)
    table = summary_table(out, checkpoints_s=checkpoints, optimum=optimum)
    header, rows = display_rows(table, checkpoints)
    names = sorted(out["optimizer"].unique())
    ref, why = choose_reference(names, reference)
    verdict = verdict_table(out, ref, style.families(runs), checkpoints, manifest["budget_s"])
    files = [folder / "summary.csv", folder / "summary.md", folder / "summary.tex", folder / "outcomes.csv",
             folder / "verdict.csv"]
    table.to_csv(files[0], index=False)
    caption = (f"{bench}: final {metric} over seeds; optimum {optimum:.2f}; target = regret <= {target_regret} pp; "
               f"budget {manifest['budget_s']:.0f} simulated s ({manifest.get('preset') or 'custom'})")
    verdict_md = verdict_markdown(verdict, ref, short_reason(ref, reference))
    md = f"# {bench}\n\n{verdict_md}\n{caption}\n\n" + markdown(header, rows) + _notes(runs, out, optimum, manifest.get("skipped"))
    files[1].write_text(md)
    files.append(folder / "verdict.md")
    files[-1].write_text(verdict_md)
    files[2].write_text(latex(header, rows, caption))
    out.to_csv(files[3], index=False)
    verdict.to_csv(files[4], index=False)

    scores = paired_scores(out)
    text, wil, fr = _stats_text(scores, ref, why, metric)
    files.append(folder / "statistics.md")
    files[-1].write_text(text)
    if wil is not None:
        files.append(folder / "wilcoxon.csv")
        wil.to_csv(files[-1], index=False)

    files += render_figures(folder, runs, manifest, fr, band)
    return Rendered(folder, md + "\n" + text, files)


#: figures wider than the page, shown at a readable width in index.html
WIDE_FIGURES = {"regret", "regret_evaluations", "rank"}

#: the files :func:`render` writes in a results folder besides its figures
OUTPUT_FILES = ("summary.csv", "summary.md", "summary.tex", "outcomes.csv", "statistics.md", "wilcoxon.csv")
#: figures of one comparison in reading order: file stem -> caption (``{band}`` filled in)
FIGURES = {
    "regret": "Anytime regret of the report metric against simulated time ({band}), one panel per family: its "
              "searches, MF-KD and its ablations in colour, the best search of every other family in grey; a curve "
              "drawn on top of another says so in the legend.",
    "regret_evaluations": "Anytime regret against the number of evaluations ({band}): sample efficiency, whatever "
                          "an evaluation costs.",
    "rank": "Average rank over simulated time (1 = lowest regret), over the seeds every optimizer ran, one panel per "
            "family (other families' best in grey); a curve starts (|) once its search has a result in every seed, "
            "and a search with no result yet ranks below every search that has one.",
    "critical_difference": "Average rank of the final report metric; thick bars join optimizers whose ranks differ "
                           "by less than the Nemenyi critical difference (alpha = 0.05).",
    "fidelity_split": "Share of simulated time spent at each fidelity (mean over seeds) and mean number of "
                      "evaluations, for every optimizer.",
}


def anytime_frames(runs: list, manifest: dict) -> dict[str, pd.DataFrame]:
    """Regret frames against time and against evaluations."""
    optimum = manifest["optimum"]
    return {"time": figures.regret_frame(runs, optimum, figures.time_grid(runs, manifest["budget_s"]), "time"),
            "evaluations": figures.regret_frame(runs, optimum, figures.evaluation_grid(runs), "evaluations")}


def render_figures(folder: Path, runs: list, manifest: dict, fr, band: str = "iqr") -> list[Path]:
    """The figures of :data:`FIGURES` in ``folder/figures``."""
    fig_dir, bench, metric = folder / "figures", manifest["benchmark"], manifest["report_metric"]
    families_of = style.families(runs)
    frames = anytime_frames(runs, manifest)
    files = figures.plot_anytime(frames["time"], fig_dir / "regret", f"{bench}: anytime regret ({figures.BANDS[band]})",
                                 metric, families_of, "time", band)
    files += figures.plot_anytime(frames["evaluations"], fig_dir / "regret_evaluations",
                                  f"{bench}: regret by evaluations ({figures.BANDS[band]})", metric, families_of,
                                  "evaluations", band)
    files += figures.plot_ranks(frames["time"], fig_dir / "rank", f"{bench}: average rank over time", families_of)
    if len(fr.average_ranks) >= 2:
        files += figures.plot_cd(fr.average_ranks, fr.critical_difference, fig_dir / "critical_difference",
                                 f"{bench}: average rank of final {metric} (Nemenyi CD, {fr.n_blocks} seeds)")
    split, evaluations = figures.fidelity_split(runs)
    if not split.empty:
        files += figures.plot_fidelity_split(split, evaluations, fig_dir / "fidelity_split",
                                             f"{bench}: simulated time per fidelity", _fidelity_order(runs),
                                             families_of)
    return files


def render_panels(folders: list[Path], stem: Path, band: str = "iqr") -> list[Path]:
    """One figure of anytime regret with a column per comparison folder (time and evaluations rows)."""
    panels = []
    for folder in folders:
        with ResultStore(folder, create=False) as store:
            manifest, runs = store.manifest(), store.runs()
        if manifest is None or not runs:
            continue
        panels.append({"title": manifest["benchmark"], "metric": manifest["report_metric"],
                       "families": style.families(runs), **anytime_frames(runs, manifest)})
    if not panels:
        return []
    return figures.plot_anytime_panels(panels, stem, "Anytime regret on every benchmark", band)


def _notes(runs: list, out: pd.DataFrame, optimum: float, skipped: dict[str, str] | None = None) -> str:
    """Families, how low-fidelity-only searches recommend, rows that are identical (with why) and the searches
    of the default grid that were skipped (with why: the manifest's ``skipped``)."""
    families: dict[str, list[str]] = {}
    for r in runs:
        family = r.config.get("family", "unlabelled")
        if r.optimizer not in families.setdefault(family, []):
            families[family].append(r.optimizer)
    lines = [f"- {family}: {', '.join(sorted(names))}" for family, names in sorted(families.items())]
    if "low-fidelity-only" in families:
        lines.append("- low-fidelity-only searches never evaluate the target fidelity: they recommend their best "
                     "cell by their own search score (NB201's protocol)")
    for group in identical_rows(out):
        finals = out[out["optimizer"] == group[0]]["final"]
        if np.allclose(finals, optimum):
            why = "each found the optimum in every seed"
        elif np.ptp(finals.to_numpy()) == 0:
            why = ("every seed of each ended on a cell of the same report value: the one its search score ranks "
                   "best, the ceiling of a search on that score")
        else:
            why = ("with the same seed they start from the same random cells, and the budget ended before their "
                   "final choices differed")
        lines.append(f"- identical in every seed: {', '.join(group)} ({why})")
    lines += [f"- skipped {name}: {reason}" for name, reason in sorted((skipped or {}).items())]
    return "\n" + "\n".join(lines) + "\n"


def _fidelity_order(runs: list) -> dict[str, int]:
    """Position of each fidelity in the runs' offer (sorted by epochs, target last)."""
    return {name: i for r in runs for i, name in enumerate(r.config.get("fidelities", []))}


def results_folders(root: str | Path) -> list[Path]:
    """``root`` itself if it holds a result store, else its sub-folders that do."""
    root = Path(root)
    if (root / STORE_FILE).is_file():
        return [root]
    found = sorted(p.parent for p in root.glob(f"*/{STORE_FILE}")) if root.is_dir() else []
    if not found:
        raise UserError(f"no results in {root}: expected {root / STORE_FILE} or sub-folders holding one")
    return found
