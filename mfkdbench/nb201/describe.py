"""Human-readable descriptions of the data in use (``data info``, ``arch``), and their JSON records."""
from __future__ import annotations

import numpy as np

from mfkdbench.nb201.benchmark import HIGH, Benchmark
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.provenance import CITE, METRIC_ORIGINS, metric_origin
from mfkdbench.nb201.tables import (DATASETS, METRICS, SHIPPED, canonical_dataset, data_sources, load_tables,
                                    shipped_dir, verify_shipped)

_EXPECTED = ("val_acc_200", "val_acc_200_seeds", "test_acc_200", "time_200", "val_acc_12", "test_acc_12")


def data_info_record(data: str | None = None) -> dict:
    """Source in use and the other sources, size, per dataset its fidelities, metrics, missing metrics, optimum
    and KD subset, the provenance of each metric and the papers to cite (``data info --json``)."""
    tables = load_tables(data)
    space = SearchSpace(tables.index_codes)
    origin = tables.meta.get("origin", "")
    record = {"source": tables.meta.get("source"), "checksum": tables.meta.get("checksum"),
              "manifest": verify_shipped(shipped_dir()) if origin == SHIPPED else None,
              "sources": [{"name": name, "where": there} for name, there in data_sources(data)],
              "archs": len(space), "disconnected": int((~space.connected).sum()),
              "functionally_distinct": int(space.n_unique), "datasets": {}}
    for ds in DATASETS:
        bench = Benchmark(ds, ds, space, tables)
        entry = {
            "fidelities": list(bench.fidelities), "metrics": list(tables.metrics(ds)),
            "training_free": {n: f.measured_on for n, f in bench.fidelities.items() if f.training_free},
            "missing": [m for m in _EXPECTED if not tables.has(ds, m)], "optimum": float(bench.optimum),
            "optimum_metric": bench.report_metric, "best_index": int(bench.best_index), "kd_subset": None}
        if tables.has(ds, "nst12_val"):
            cells = np.flatnonzero(np.isfinite(tables.get(ds, "nst12_val")) | np.isfinite(tables.get(ds, "nst12_test")))
            entry["kd_subset"] = {"cells": len(cells), "first": int(cells.min()), "last": int(cells.max()),
                                  "benchmark": f"{ds}-kd{len(cells)}"}
        record["datasets"][ds] = entry
    present = {m for ds in DATASETS for m in tables.metrics(ds)}
    metrics = [m for m in METRIC_ORIGINS if m in present] + sorted(present - set(METRIC_ORIGINS))
    record["provenance"] = {m: metric_origin(m, origin) for m in metrics}
    record["cite"] = list(CITE)
    return record


def data_info_text(data: str | None = None) -> str:
    """:func:`data_info_record` as text."""
    r = data_info_record(data)
    lines = [f"source:    {r['source']}", f"checksum:  {r['checksum'] or '-'}"]
    if r["manifest"] is not None:
        lines.append(f"manifest:  {r['manifest']}")
    lines.append("sources, first match wins:")
    lines += [f"  {rank}. {s['name'] + ':':<26} {s['where']}" for rank, s in enumerate(r["sources"], start=1)]
    lines.append(f"archs:     {r['archs']} ({r['disconnected']} without an input-output path, "
                 f"{r['functionally_distinct']} functionally distinct)")
    for ds, d in r["datasets"].items():
        label = "test accuracy" if d["optimum_metric"] == "test_acc_200" else "VALIDATION accuracy (no test data)"
        lines += [
            f"{ds}:",
            f"  fidelities: {', '.join(d['fidelities'])}",
            "  training-free (measured on): "
            + (", ".join(f"{n} ({on})" for n, on in d["training_free"].items()) or "none in this data"),
            f"  metrics:    {', '.join(d['metrics'])}",
            f"  missing:    {', '.join(d['missing']) if d['missing'] else 'nothing'}",
            f"  optimum:    {d['optimum']:.4f} {label}, mean over seeds, arch {d['best_index']}",
        ]
        kd = d["kd_subset"]
        if kd is not None:
            lines.append(f"  KD subset:  {kd['cells']} cells (indices {kd['first']}..{kd['last']}) with the MF-KD authors' "
                         f"12-epoch NST runs (fidelity nst12): benchmark {kd['benchmark']}")
    lines.append("provenance (metric: source, licence):")
    by_origin: dict[str, list[str]] = {}
    for metric, where in r["provenance"].items():
        by_origin.setdefault(where, []).append(metric)
    lines += [f"  {', '.join(names)}: {where}" for where, names in by_origin.items()]
    lines += ["cite:"] + [f"  {paper}" for paper in r["cite"]]
    return "\n".join(lines)


def _plain(value):
    """A stored metric as JSON: a number, a list of numbers, or None for NaN."""
    if np.ndim(value):
        return [_plain(v) for v in value]
    return None if np.isnan(value) else float(value)


def arch_record(arch: str, data: str | None = None, dataset: str | None = None, fidelity: str | None = None) -> dict:
    """Every stored metric and fidelity (score, cost) of one cell per dataset (``arch --json``)."""
    tables = load_tables(data)
    space = SearchSpace(tables.index_codes)
    index = space.resolve(arch)
    cell = space.arch(index)
    record = {"index": int(index), "arch": str(cell), "connected": bool(cell.is_connected),
              "canonical_index": int(space.canonical_ids[index]), "datasets": {}}
    for ds in [canonical_dataset(dataset)] if dataset else DATASETS:
        bench = Benchmark(ds, ds, space, tables)
        names = [fidelity] if fidelity else [n for n in bench.fidelities if n != HIGH and "@" not in n]
        metrics = {} if fidelity else {m: tables.get(ds, m)[index] for m in tables.metrics(ds)}
        record["datasets"][ds] = {
            "metrics": {m: _plain(v) for m, v in metrics.items() if not np.isnan(v).all()},
            "fidelities": {n: {"score": _plain(bench.score(index, n)), "cost_s": _plain(bench.cost(index, n)),
                               "measured_on": bench.fidelity(n).measured_on} for n in names}}
    return record


def arch_text(arch: str, data: str | None = None, dataset: str | None = None, fidelity: str | None = None) -> str:
    """Every stored metric of one cell on every dataset (or one dataset / one fidelity)."""
    r = arch_record(arch, data, dataset, fidelity)
    lines = [f"index {r['index']}  {r['arch']}", f"connected: {r['connected']}   canonical index: {r['canonical_index']}"]
    for ds, d in r["datasets"].items():
        lines.append(f"{ds}:")
        for metric, value in d["metrics"].items():
            shown = " ".join(f"{v:.3f}" for v in value if v is not None) if isinstance(value, list) else f"{value:.4f}"
            lines.append(f"  {metric:<18} {shown}   ({METRICS.get(metric, '')})")
        for name, f in d["fidelities"].items():
            lines.append(f"  fidelity {name:<9} score {_num(f['score'], 4)}  cost {_num(f['cost_s'], 1 if (f['cost_s'] or 0) >= 1 else 3)} s  "
                         f"(measured on: {f['measured_on']})")
    return "\n".join(lines)


def _num(value, digits: int) -> str:
    return "nan" if value is None else f"{value:.{digits}f}"
