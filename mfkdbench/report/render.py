"""Tables, statistics and figures of one stored comparison, rendered from its result store alone.

Reference of the Wilcoxon tests: the ``reference`` argument, else ``mfkd`` when
the results hold it, else ``mf-ce``, else the first optimizer in alphabetical
order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mfkdbench.report import figures, style
from mfkdbench.errors import UserError
from mfkdbench.report.stats import friedman, wilcoxon_vs_reference
from mfkdbench.checks import check_writable
from mfkdbench.experiments.store import STORE_FILE, ResultStore
from mfkdbench.report.summary import DEFAULT_TARGET_REGRET, display_rows, latex, markdown, outcomes, summary_table

#: MF-KD, else its cross-entropy ablation (the method with the data at hand)
PREFERRED_REFERENCES = ("mfkd", "mf-ce")


@dataclass
class Rendered:
    """What :func:`render` wrote and the text to show in the terminal."""

    folder: Path
    text: str
    files: list[Path]


def choose_reference(names: list[str], reference: str | None = None) -> str:
    """The Wilcoxon reference: ``reference`` if given, else the first of :data:`PREFERRED_REFERENCES` present,
    else the first optimizer in alphabetical order."""
    if reference is not None:
        if reference not in names:
            raise UserError(f"reference optimizer {reference!r} is not in the results; they hold {', '.join(names)}")
        return reference
    return next((name for name in PREFERRED_REFERENCES if name in names), sorted(names)[0])


def _stats_text(scores: pd.DataFrame, reference: str, metric: str) -> tuple[str, pd.DataFrame, object]:
    lines = [f"## Statistics ({metric}, {len(scores)} seeds that every optimizer ran)\n"]
    wil = wilcoxon_vs_reference(scores, reference) if scores.shape[1] >= 2 and len(scores) >= 2 else None
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
        check_writable(folder, f"the outputs in {folder}")
        manifest, runs = store.manifest(), store.runs()
    if not runs or manifest is None:
        raise UserError(f"no finished cells in {folder / STORE_FILE}")
    bench, metric, optimum = manifest["benchmark"], manifest["report_metric"], manifest["optimum"]
    out = outcomes(runs, optimum, target_regret)
    table = summary_table(out)
    header, rows = display_rows(table)
    files = [folder / "summary.csv", folder / "summary.md", folder / "summary.tex", folder / "outcomes.csv"]
    table.to_csv(files[0], index=False)
    caption = (f"{bench}: final {metric} over seeds; optimum {optimum:.2f}; target = regret <= {target_regret} pp; "
               f"budget {manifest['budget_s']:.0f} simulated s ({manifest.get('preset') or 'custom'})")
    md = f"# {bench}\n\n{caption}\n\n" + markdown(header, rows)
    files[1].write_text(md)
    files[2].write_text(latex(header, rows, caption))
    out.to_csv(files[3], index=False)

    names = sorted(out["optimizer"].unique())
    ref = choose_reference(names, reference)
    scores = out.pivot(index="seed", columns="optimizer", values="final").dropna()
    text, wil, fr = _stats_text(scores, ref, metric)
    files.append(folder / "statistics.md")
    files[-1].write_text(text)
    if wil is not None:
        files.append(folder / "wilcoxon.csv")
        wil.to_csv(files[-1], index=False)

    files += render_figures(folder, runs, manifest, fr, band)
    return Rendered(folder, md + "\n" + text, files)


#: figures of one comparison in reading order: file stem -> caption (``{band}`` filled in)
FIGURES = {
    "regret": "Anytime regret of the report metric against simulated time ({band}); a curve drawn on top of "
              "another says so in the legend.",
    "regret_evaluations": "Anytime regret against the number of evaluations ({band}): sample efficiency, whatever "
                          "an evaluation costs.",
    "rank": "Average rank over simulated time (1 = lowest regret), over the seeds every optimizer ran.",
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
