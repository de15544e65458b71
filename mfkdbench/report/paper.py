"""The paper's extra outputs: the low-fidelity correlation study and the index page of ``mfkdbench paper``."""
from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from mfkdbench.report import figures
from mfkdbench.report.figures import BANDS
from mfkdbench.report.render import FIGURES, WIDE_FIGURES

#: low fidelities of the correlation figure (labels of :func:`mfkdbench.lowfi.correlation.low_fidelities`)
CORRELATION_FIDELITIES = ("nst12 (CE+25 NST, 12 ep)", "ce12 (CE, 12 ep)")
CORRELATION_BOOTSTRAP = 1000


def correlation_panels(tables, table: pd.DataFrame) -> list[dict]:
    """Scatter data of the correlation figure, titled with ``table``'s rank correlations (240 CIFAR-100 cells)."""
    from mfkdbench.lowfi.correlation import SUBSETS, low_fidelities

    table = table.set_index("low fidelity")
    target, scores, cells = tables.get("cifar100", "test_acc_200"), low_fidelities(tables, "cifar100"), SUBSETS["kd240"]
    panels = []
    for label in CORRELATION_FIDELITIES:
        x = scores[label][cells]
        keep = np.isfinite(x) & np.isfinite(target[cells])
        row = table.loc[label]
        panels.append({"x": x[keep], "y": target[cells][keep], "fidelity": label.split()[0],
                       "xlabel": "12-epoch validation accuracy (%)",
                       "ylabel": "200-epoch test accuracy (%)",
                       "label": f"{label}\nSpearman {row['spearman']:.3f}, Kendall {row['kendall']:.3f} "
                                f"(n = {int(row['cells'])})"})
    return panels


def correlation_outputs(folder: Path, data: str | None, progress: bool = True) -> dict:
    """The correlation study on the CIFAR-100 cells with KD runs: ``table`` (with bootstrap intervals, also
    written as CSV) and ``figures``; empty without KD data. ``datasets``: the study over every cell of each
    dataset (``correlation_<dataset>.csv``), training-free fidelities and NAS-Bench-Suite-Zero's proxies included."""
    from mfkdbench.lowfi.correlation import correlation_table
    from mfkdbench.nb201.tables import DATASETS, load_tables

    tables = load_tables(data)
    if not tables.has("cifar100", "nst12_val"):
        return {}
    table = correlation_table("cifar100", "kd240", CORRELATION_BOOTSTRAP, tables=tables, show_progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "correlation.csv", index=False)
    paths = figures.plot_correlation(correlation_panels(tables, table), folder / "correlation",
                                     "CIFAR-100: low-fidelity score vs 200-epoch test accuracy")
    datasets = {}
    for ds in DATASETS:
        datasets[ds] = correlation_table(ds, "all", CORRELATION_BOOTSTRAP, tables=tables, show_progress=progress)
        datasets[ds].to_csv(folder / f"correlation_{ds}.csv", index=False)
    return {"table": table, "figures": paths, "datasets": datasets}


# ---- index.html ------------------------------------------------------------------

_CSS = ("body{font-family:system-ui,sans-serif;max-width:1150px;margin:auto;padding:0 16px;color:#222;line-height:1.45}"
        "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}"
        "td:first-child,th:first-child{text-align:left}table.protocol td,table.protocol th{text-align:left}"
        "figure{margin:16px 0}figure img{max-width:100%}figcaption{font-size:13px;color:#444}"
        "figure.wide{width:min(96vw,1800px);position:relative;left:50%;transform:translateX(-50%)}"
        "figure.wide img{width:100%}"
        ".verdict{background:#f3f7fb;border-left:4px solid #0072B2;padding:2px 14px;margin:10px 0}"
        ".verdict li{margin:4px 0}"
        "nav{background:#f7f7f7;padding:6px 14px;border:1px solid #ddd}pre{background:#f4f4f4;padding:8px;"
        "overflow-x:auto;font-size:12px}h2{border-bottom:2px solid #ddd;margin-top:36px}")


def markdown_html(text: str, skip_title: bool = True) -> str:
    """The project's Markdown (headings, paragraphs, ``- `` lists, ``**bold**``, ```code```, pipe tables) as HTML
    with real tables and lists."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        if lines[0].startswith("|"):
            rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if not line.startswith("|---")]
            out.append(pd.DataFrame(rows[1:], columns=rows[0]).to_html(index=False, border=0, escape=True))
        elif all(line.startswith("- ") for line in lines):
            out.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        elif lines[0].startswith("#"):
            level = len(lines[0]) - len(lines[0].lstrip("#"))
            if not (skip_title and level == 1):
                out.append(f"<h4>{_inline(lines[0].lstrip('#').strip())}</h4>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def protocol_html(results) -> str:
    """The protocol of a comparison from its manifest, and each optimizer's family and fidelities used."""
    m, runs = results.manifest, results.runs
    seeds = runs.groupby("optimizer")["seed"].nunique()
    checkpoints = m.get("checkpoints_s")
    rows = [
        ("benchmark", f"{m['benchmark']} (dataset {m.get('dataset', '-')})"),
        ("budget", f"{m['budget_s']:,.0f} simulated s" + (f", preset {m['preset']}" if m.get("preset") else "")),
        ("checkpoints", ", ".join(f"{c:,.0f} s" for c in checkpoints) if checkpoints else "the budget only"),
        ("seeds", f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()} to {seeds.max()}"),
        ("target fidelity", f"{m['target_fidelity']} (incumbent = best search score there)"),
        ("report metric", f"{m['report_metric']}, optimum {m['optimum']:.2f}, looked up after the search"),
        ("simulated workers", str(m.get("sim_workers", 1))),
        ("data source", f"{m.get('data_source')} (checksum {m.get('data_checksum')})"),
        ("mfkdbench version", str(m.get("version"))),
    ]
    table = "".join(f"<tr><td><strong>{html.escape(k)}</strong></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    used = results.evaluations.groupby("optimizer")["fidelity"].unique()
    per = runs.groupby("optimizer").agg(family=("family", "first"), runs=("seed", "size"))
    per["search fidelities used"] = [", ".join(sorted(used[name], key=lambda f: (f == m["target_fidelity"], f)))
                                     for name in per.index]
    return (f"<table class='protocol'>{table}</table>"
            + per.reset_index().sort_values(["family", "optimizer"]).to_html(index=False, border=0, classes="protocol"))


def _figure(src: str, number: int, caption: str, wide: bool = False) -> str:
    """A numbered figure linking its full-size file; a ``wide`` one is shown as wide as the window (beyond the
    text column) so that its text stays readable."""
    src = html.escape(src)
    return (f"<figure id='fig{number}'{' class=wide' if wide else ''}><a href='{src}'>"
            f"<img src='{src}' alt='{html.escape(caption)}'></a>"
            f"<figcaption><strong>Figure {number}.</strong> {html.escape(caption)} <a href='{src}'>full size</a>"
            f"</figcaption></figure>")


def write_index(out: Path, benchmarks: list[str], panels: list[Path], correlation: dict, band: str = "iqr",
                aggregate: list[Path] = ()) -> Path:
    """``index.html``: contents; all benchmarks side by side; per benchmark its protocol, summary table, figures
    with captions and statistics; the correlation study with bootstrap intervals; what to cite."""
    from mfkdbench.report.citation import cite_text
    from mfkdbench.report.results import load

    sections, number = [], 0
    if panels:
        number += 1
        sections.append(("overview", "All benchmarks", _figure(panels[0].relative_to(out).as_posix(), number,
                         f"Anytime regret on every benchmark against simulated time: the best search of each "
                         f"family, MF-KD and its ablations ({BANDS[band].split(',')[0]}; the band, "
                         f"{BANDS[band].split(', ')[1]}, of MF-KD or its closest method only); a triangle marks "
                         "where a curve reaches regret 0.")))
    if aggregate:
        body = [markdown_html((out / "aggregate.md").read_text()), "<a href='aggregate.csv'>aggregate.csv</a>"]
        for stem, caption in (("aggregate", "Average rank and normalised regret of every search over all "
                                            "benchmarks, at each budget multiple."),
                              ("critical_difference_all", "Average rank at the full budget over the benchmarks; "
                                                          "thick bars join searches within the Nemenyi critical "
                                                          "difference.")):
            if (out / f"{stem}.png").is_file():
                number += 1
                body.append(_figure(f"{stem}.png", number, caption))
        sections.append(("aggregate", "Every search over all benchmarks", "\n".join(body)))
    for bench in benchmarks:
        folder = out / bench
        verdict = (folder / "verdict.md").read_text()
        body = [f"<div class='verdict'>{markdown_html(verdict)}</div>", "<h3>Protocol</h3>", protocol_html(load(folder)),
                "<h3>Summary</h3>", markdown_html((folder / "summary.md").read_text().replace(verdict, ""), skip_title=True),
                " ".join(f"<a href='{bench}/{name}'>{name}</a>"
                         for name in ("summary.csv", "summary.tex", "outcomes.csv", "verdict.csv")),
                "<h3>Figures</h3>"]
        for stem, caption in FIGURES.items():
            if (folder / "figures" / f"{stem}.png").is_file():
                number += 1
                body.append(_figure(f"{bench}/figures/{stem}.png", number, f"{bench}: " + caption.format(band=BANDS[band]),
                                    wide=stem in WIDE_FIGURES))
        body += ["<h3>Statistics</h3>", markdown_html((folder / "statistics.md").read_text())]
        sections.append((bench, bench, "\n".join(body)))
    if correlation:
        number += 1
        table = correlation["table"].to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}")
        png = next(p for p in correlation["figures"] if p.suffix == ".png")
        sections.append(("correlation", "Correlation of low fidelities with the 200-epoch accuracy", "\n".join([
            f"<p>CIFAR-100, the 240 cells with the MF-KD authors' NST runs: Spearman and Kendall rank correlation of "
            f"each low-fidelity score with the 200-epoch test accuracy, 95% percentile-bootstrap intervals over cells "
            f"({CORRELATION_BOOTSTRAP} resamples, seed 0). <a href='correlation/correlation.csv'>correlation.csv</a></p>",
            table, _figure(png.relative_to(out).as_posix(), number,
                           "Low-fidelity score against 200-epoch test accuracy, one point per cell.")]
            + [f"<h3>{ds}, every cell</h3><p>Training-free fidelities (what each was measured on in brackets) and "
               f"NAS-Bench-Suite-Zero's proxies (<code>zc:</code>, its ~725 cells; never searched); top1% is the share "
               f"of the true top 1 % in the fidelity's top 1 %. <a href='correlation/correlation_{ds}.csv'>"
               f"correlation_{ds}.csv</a></p>"
               + t.to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}")
               for ds, t in correlation.get("datasets", {}).items()])))
    sections.append(("cite", "How to cite", f"<p>Also in <code>CITATION.cff</code> and "
                                            f"<code>mfkdbench cite</code>.</p><pre>{html.escape(cite_text())}</pre>"))
    toc = "".join(f"<li><a href='#{key}'>{html.escape(title)}</a></li>" for key, title, _ in sections)
    parts = ["<!doctype html><html lang='en'><meta charset='utf-8'><title>mfkdbench: the paper's outputs</title>",
             f"<style>{_CSS}</style>", "<h1>mfkdbench: the paper's outputs</h1>",
             f"<nav><strong>Contents</strong><ol>{toc}</ol></nav>"]
    parts += [f"<section id='{key}'><h2>{html.escape(title)}</h2>\n{body}</section>" for key, title, body in sections]
    index = out / "index.html"
    index.write_text("\n".join(parts) + "\n</html>\n")
    return index
