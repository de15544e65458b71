"""Human-readable descriptions of the data in use (``data info``, ``arch``)."""
from __future__ import annotations

import numpy as np

from mfkdbench.nb201.benchmark import HIGH, Benchmark
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.tables import DATASETS, METRICS, canonical_dataset, load_tables

_EXPECTED = ("val_acc_200", "val_acc_200_seeds", "test_acc_200", "time_200", "val_acc_12", "test_acc_12")


def data_info_text(data: str | None = None) -> str:
    """Source, size, fidelities, missing metrics and optimum per dataset."""
    tables = load_tables(data)
    space = SearchSpace(tables.index_codes)
    lines = [
        f"source:    {tables.meta.get('source')}",
        f"checksum:  {tables.meta.get('checksum', '-')}",
        f"archs:     {len(space)} ({int((~space.connected).sum())} without an input-output path, "
        f"{space.n_unique} functionally distinct)",
    ]
    for ds in DATASETS:
        bench = Benchmark(ds, ds, space, tables)
        fids = ", ".join(bench.fidelities)
        missing = [m for m in _EXPECTED if not tables.has(ds, m)]
        label = "test accuracy" if bench.report_metric == "test_acc_200" else "VALIDATION accuracy (no test data)"
        lines += [
            f"{ds}:",
            f"  fidelities: {fids}",
            f"  metrics:    {', '.join(tables.metrics(ds))}",
            f"  missing:    {', '.join(missing) if missing else 'nothing'}",
            f"  optimum:    {bench.optimum:.4f} {label}, mean over seeds, arch {bench.best_index}",
        ]
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
