"""Stored comparison results as pandas DataFrames, and their export to CSV or Parquet.

``load(folder)`` reads a ``compare`` folder's store (nothing is written to it) into a :class:`Results`:

* ``runs``: one row per (optimizer, seed) run: ``optimizer, seed, benchmark, family, target_fidelity,
  final_index, simulated_s, report_metric, final_report, regret, t_optimum, t_target, overhead_s, evaluations,
  wall_s`` (times in simulated seconds, ``inf`` if never reached; overhead and wall time in real seconds), plus
  any column that :func:`mfkdbench.report.summary.outcomes` adds;
* ``trajectories``: one row per incumbent change of each run (time, evaluations so far, cell, fidelity, search
  score, report metric, regret);
* ``evaluations``: one row per evaluation of each run (trial, worker, start, end, cell, fidelity, score, cost);
* ``manifest``: the protocol every run shares (benchmark, budget, target fidelity, data source, version ...).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mfkdbench.errors import UserError
from mfkdbench.experiments.store import ResultStore
from mfkdbench.inputs import check_output_folder
from mfkdbench.report.style import family
from mfkdbench.report.summary import DEFAULT_TARGET_REGRET, outcomes

FORMATS = ("csv", "parquet")
TABLES = ("runs", "trajectories", "evaluations")


@dataclass
class Results:
    """The DataFrames of one comparison folder (see the module docstring)."""

    manifest: dict
    runs: pd.DataFrame
    trajectories: pd.DataFrame
    evaluations: pd.DataFrame


def _per_run(runs: list, attribute: str, optimum: float | None = None) -> pd.DataFrame:
    parts = []
    for r in runs:
        frame = getattr(r, attribute).copy()
        frame.insert(0, "seed", r.seed)
        frame.insert(0, "optimizer", r.optimizer)
        if optimum is not None:
            frame["regret"] = optimum - frame["report"]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def results_frames(runs: list, manifest: dict, wall: pd.DataFrame | None = None,
                   target_regret: float = DEFAULT_TARGET_REGRET) -> Results:
    """:class:`Results` of stored runs (``wall``: optimizer, seed, wall_s of each cell)."""
    optimum = manifest["optimum"]
    per_run = pd.DataFrame([{
        "optimizer": r.optimizer, "seed": r.seed, "benchmark": r.benchmark, "family": family(r),
        "target_fidelity": r.config.get("target_fidelity"), "final_index": r.final_index,
        "simulated_s": float(r.evaluations["end"].max()) if len(r.evaluations) else 0.0,
    } for r in runs])
    table = per_run.merge(outcomes(runs, optimum, target_regret), on=["optimizer", "seed"])
    if wall is not None:
        table = table.merge(wall, on=["optimizer", "seed"], how="left")
    table = table.rename(columns={"final": "final_report"})
    table.insert(table.columns.get_loc("final_report"), "report_metric", manifest["report_metric"])
    return Results(manifest, table, _per_run(runs, "incumbents", optimum), _per_run(runs, "evaluations"))


def load(folder: str | Path, target_regret: float = DEFAULT_TARGET_REGRET) -> Results:
    """The results of the ``compare`` folder ``folder`` as DataFrames."""
    with ResultStore(folder, create=False) as store:
        manifest, runs, wall = store.manifest(), store.runs(), store.wall_times()
    if manifest is None or not runs:
        raise UserError(f"no finished cells in {folder}")
    return results_frames(runs, manifest, wall, target_regret)


def export(folder: str | Path, fmt: str, out: str | Path | None = None) -> list[Path]:
    """Write ``runs``, ``trajectories`` and ``evaluations`` as ``fmt`` files and ``manifest.json`` to ``out``
    (default ``folder/export``); return the paths."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("Parquet export needs pyarrow: pip install 'mfkdbench[export]'") from None
    out = Path(folder) / "export" if out is None else Path(out)
    check_output_folder(out, "export folder", tuple(f"{name}.{fmt}" for name in TABLES) + ("manifest.json",))
    results = load(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TABLES:
        path = out / f"{name}.{fmt}"
        frame = getattr(results, name)
        frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
        paths.append(path)
    paths.append(out / "manifest.json")
    paths[-1].write_text(json.dumps(results.manifest, indent=2, sort_keys=True) + "\n")
    return paths
