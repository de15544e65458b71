"""Human-readable descriptions of the data in use (``data info``, ``arch``)."""
from __future__ import annotations

import numpy as np

from mfkdbench.nb201.benchmark import HIGH, Benchmark
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.provenance import CITE, METRIC_ORIGINS, metric_origin
from mfkdbench.nb201.tables import (DATASETS, METRICS, SHIPPED, canonical_dataset, data_sources, load_tables,
                                    shipped_dir, verify_shipped)

_EXPECTED = ("val_acc_200", "val_acc_200_seeds", "test_acc_200", "time_200", "val_acc_12", "test_acc_12")


def data_info_text(data: str | None = None) -> str:
    """Source in use and the other sources, size, fidelities, missing metrics, optimum and provenance per dataset."""
    tables = load_tables(data)
    space = SearchSpace(tables.index_codes)
    origin = tables.meta.get("origin", "")
    lines = [f"source:    {tables.meta.get('source')}", f"checksum:  {tables.meta.get('checksum', '-')}"]
    if origin == SHIPPED:
        lines.append(f"manifest:  {verify_shipped(shipped_dir())}")
    lines.append("sources, first match wins:")
    for rank, (name, there) in enumerate(data_sources(data), start=1):
        lines.append(f"  {rank}. {name + ':':<26} {there}")
    lines.append(f"archs:     {len(space)} ({int((~space.connected).sum())} without an input-output path, "
                 f"{space.n_unique} functionally distinct)")
    for ds in DATASETS:
        bench = Benchmark(ds, ds, space, tables)
        missing = [m for m in _EXPECTED if not tables.has(ds, m)]
        label = "test accuracy" if bench.report_metric == "test_acc_200" else "VALIDATION accuracy (no test data)"
        lines += [
            f"{ds}:",
            f"  fidelities: {', '.join(bench.fidelities)}",
            f"  metrics:    {', '.join(tables.metrics(ds))}",
            f"  missing:    {', '.join(missing) if missing else 'nothing'}",
            f"  optimum:    {bench.optimum:.4f} {label}, mean over seeds, arch {bench.best_index}",
        ]
        if tables.has(ds, "nst12_val"):
            cells = np.flatnonzero(np.isfinite(tables.get(ds, "nst12_val")) | np.isfinite(tables.get(ds, "nst12_test")))
            lines.append(f"  KD subset:  {len(cells)} cells (indices {cells.min()}..{cells.max()}) with the MF-KD authors' "
                         f"12-epoch NST runs (fidelity nst12): benchmark {ds}-kd{len(cells)}")
    lines.append("provenance (metric: source, licence):")
    present = {m for ds in DATASETS for m in tables.metrics(ds)}
    metrics = [m for m in METRIC_ORIGINS if m in present] + sorted(present - set(METRIC_ORIGINS))
    by_origin: dict[str, list[str]] = {}
    for metric in metrics:
        by_origin.setdefault(metric_origin(metric, origin), []).append(metric)
    lines += [f"  {', '.join(names)}: {where}" for where, names in by_origin.items()]
    lines += ["cite:"] + [f"  {paper}" for paper in CITE]
    return "\n".join(lines)


def arch_text(arch: str, data: str | None = None, dataset: str | None = None, fidelity: str | None = None) -> str:
    """Every stored metric of one cell on every dataset (or one dataset / one fidelity)."""
    tables = load_tables(data)
    space = SearchSpace(tables.index_codes)
    index = space.resolve(arch)
    cell = space.arch(index)
    lines = [f"index {index}  {cell}", f"connected: {cell.is_connected}   canonical index: {space.canonical_ids[index]}"]
    for ds in [canonical_dataset(dataset)] if dataset else DATASETS:
        bench = Benchmark(ds, ds, space, tables)
        lines.append(f"{ds}:")
        if fidelity:
            lines.append(f"  fidelity {fidelity:<9} score {bench.score(index, fidelity):.4f}  cost {bench.cost(index, fidelity):.1f} s")
            continue
        for metric in tables.metrics(ds):
            value = tables.get(ds, metric)[index]
            if np.isnan(value).all():
                continue
            shown = " ".join(f"{v:.3f}" for v in value[~np.isnan(value)]) if np.ndim(value) else f"{value:.4f}"
            lines.append(f"  {metric:<18} {shown}   ({METRICS.get(metric, '')})")
        for name in bench.fidelities:
            if name != HIGH and "@" not in name:
                lines.append(f"  fidelity {name:<9} score {bench.score(index, name):.4f}  cost {bench.cost(index, name):.1f} s")
    return "\n".join(lines)
