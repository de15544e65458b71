"""The paper's extra outputs: the low-fidelity correlation figure and the index page of ``mfkdbench paper``."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from mfkdbench.report import figures

#: low fidelities of the correlation figure (labels of :func:`mfkdbench.lowfi.correlation.low_fidelities`)
CORRELATION_FIDELITIES = ("nst12 (CE+25 NST, 12 ep)", "ce12 (CE, 12 ep)")


def correlation_panels(tables) -> list[dict]:
    """Scatter data and rank correlations (:mod:`mfkdbench.lowfi.correlation`) on the 240 CIFAR-100 cells with KD runs."""
    from mfkdbench.lowfi.correlation import SUBSETS, correlation_table, low_fidelities

    table = correlation_table("cifar100", "kd240", bootstrap=0, tables=tables).set_index("low fidelity")
    target, scores, cells = tables.get("cifar100", "test_acc_200"), low_fidelities(tables, "cifar100"), SUBSETS["kd240"]
    panels = []
    for label in CORRELATION_FIDELITIES:
        x = scores[label][cells]
        keep = np.isfinite(x) & np.isfinite(target[cells])
        row = table.loc[label]
        panels.append({"x": x[keep], "y": target[cells][keep], "xlabel": "12-epoch validation accuracy (%)",
                       "ylabel": "200-epoch test accuracy (%)",
                       "label": f"{label}\nSpearman {row['spearman']:.3f}, Kendall {row['kendall']:.3f} "
                                f"(n = {int(row['cells'])})"})
    return panels


def correlation_figure(folder: Path, data: str | None) -> list[Path]:
    """The paper's correlation figure (CIFAR-100 cells with KD results); nothing without KD data."""
    from mfkdbench.nb201.tables import load_tables

    tables = load_tables(data)
    if not tables.has("cifar100", "nst12_val"):
        return []
    return figures.plot_correlation(correlation_panels(tables), folder / "correlation",
                                    "CIFAR-100: low-fidelity score vs 200-epoch test accuracy")


def write_index(out: Path, benchmarks: list[str], extra: list[Path]) -> Path:
    """``index.html``: every benchmark's summary table and figures, then the extra figures."""
    parts = ["<!doctype html><meta charset='utf-8'><title>mfkdbench paper outputs</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
             "pre{background:#f4f4f4;padding:8px;overflow-x:auto}</style>", "<h1>mfkdbench: the paper's outputs</h1>"]
    for bench in benchmarks:
        folder = out / bench
        parts.append(f"<h2>{html.escape(bench)}</h2>")
        for name in ("summary.md", "statistics.md"):
            parts.append(f"<pre>{html.escape((folder / name).read_text())}</pre>")
        parts.append(" ".join(f"<a href='{bench}/{name}'>{name}</a>" for name in ("summary.csv", "summary.tex")))
        for png in sorted((folder / "figures").glob("*.png")):
            parts.append(f"<p><img src='{bench}/figures/{png.name}' alt='{html.escape(png.stem)}'></p>")
    pngs = [p for p in extra if p.suffix == ".png"]
    if pngs:
        parts.append("<h2>Correlation of low fidelities with the 200-epoch accuracy</h2>")
        parts += [f"<p><img src='{p.relative_to(out).as_posix()}' alt='{p.stem}'></p>" for p in pngs]
    index = out / "index.html"
    index.write_text("\n".join(parts) + "\n")
    return index
