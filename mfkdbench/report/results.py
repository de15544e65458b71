"""Stored comparison results as tidy (long-format) DataFrames, and their export to CSV or Parquet.

``load(folder)`` reads a ``compare`` folder's store (nothing is written to it) into a :class:`Results`. Every
table names a search three ways: ``optimizer`` (the label, ``rea@ce12``), ``method`` (``rea``) and
``search_fidelity`` (``ce12``; missing for a multi-fidelity search), with its ``family``. Units are in the column
names: ``_s`` simulated seconds (``wall_s`` and ``overhead_s`` real seconds), ``_pct`` accuracy in percent,
``_pp`` percentage points. A time never reached is missing (NaN) beside a ``reached_*`` flag, never ``inf``.
Fidelity names are strings (``"200"``): read a CSV with ``dtype={"search_fidelity": str, "fidelity": str,
"target_fidelity": str}``.

* ``runs``: one row per (optimizer, seed): ``benchmark, target_fidelity, final_index, report_metric,
  final_report_pct, regret_pp, reached_optimum, t_optimum_s, reached_target, t_target_s, target_regret_pp,
  overhead_s, evaluations, simulated_s, wall_s``;
* ``checkpoints``: one row per run and checkpoint of the protocol: ``checkpoint_s, budget_multiple, has_result,
  report_pct, regret_pp`` (missing before the run's first result);
* ``fidelities``: one row per run and fidelity it used: ``fidelity, evaluations, simulated_s``;
* ``trajectories``: one row per incumbent change: ``time_s, evaluations, index, fidelity, score, report_pct,
  regret_pp`` (``score``: the search score in its fidelity's unit, accuracy in percent for a trained fidelity);
* ``evaluations``: one row per evaluation: ``trial_id, worker, start_s, end_s, index, fidelity, score, cost_s``;
* ``manifest``: the protocol every run shares (benchmark, budget, target fidelity, data source, version ...),
  with the data source named by its kind and checksum and no path of this machine (:func:`public_manifest`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mfkdbench.errors import UserError
from mfkdbench.experiments.store import ResultStore
from mfkdbench.inputs import check_output_folder
from mfkdbench.report.style import base_name, family
from mfkdbench.report.summary import DEFAULT_TARGET_REGRET, report_at, time_to_regret

FORMATS = ("csv", "parquet")
TABLES = ("runs", "checkpoints", "fidelities", "trajectories", "evaluations")
_KEYS = ["optimizer", "method", "search_fidelity", "family", "seed"]


@dataclass
class Results:
    """The DataFrames of one comparison folder (see the module docstring)."""

    manifest: dict
    runs: pd.DataFrame
    checkpoints: pd.DataFrame
    fidelities: pd.DataFrame
    trajectories: pd.DataFrame
    evaluations: pd.DataFrame


def _keys(run) -> dict:
    label = run.optimizer
    return {"optimizer": label, "method": base_name(label),
            "search_fidelity": label.split("@", 1)[1] if "@" in label else None, "family": family(run),
            "seed": run.seed}


def _time(seconds: float) -> tuple[bool, float]:
    return (True, seconds) if math.isfinite(seconds) else (False, math.nan)


def _run_row(run, optimum: float, metric: str, target_regret: float) -> dict:
    reached_optimum, t_optimum = _time(time_to_regret(run.incumbents, optimum, 0.0))
    reached_target, t_target = _time(time_to_regret(run.incumbents, optimum, target_regret))
    return {**_keys(run), "benchmark": run.benchmark, "target_fidelity": run.config.get("target_fidelity"),
            "final_index": run.final_index, "report_metric": metric, "final_report_pct": run.final_report,
            "regret_pp": optimum - run.final_report, "reached_optimum": reached_optimum, "t_optimum_s": t_optimum,
            "reached_target": reached_target, "t_target_s": t_target, "target_regret_pp": target_regret,
            "overhead_s": run.overhead_s, "evaluations": len(run.evaluations),
            "simulated_s": float(run.evaluations["end"].max()) if len(run.evaluations) else 0.0}


def _per_run(runs: list, attribute: str, rename: dict, optimum: float | None = None) -> pd.DataFrame:
    parts = []
    for r in runs:
        frame = getattr(r, attribute).rename(columns=rename)
        for i, (key, value) in enumerate(_keys(r).items()):
            frame.insert(i, key, value)
        if optimum is not None:
            frame["regret_pp"] = optimum - frame["report_pct"]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def results_frames(runs: list, manifest: dict, wall: pd.DataFrame | None = None,
                   target_regret: float = DEFAULT_TARGET_REGRET) -> Results:
    """:class:`Results` of stored runs (``wall``: optimizer, seed, wall_s of each cell)."""
    optimum, metric, budget = manifest["optimum"], manifest["report_metric"], manifest["budget_s"]
    table = pd.DataFrame([_run_row(r, optimum, metric, target_regret) for r in runs])
    if wall is not None:
        table = table.merge(wall, on=["optimizer", "seed"], how="left")
    checkpoints = pd.DataFrame([
        {**_keys(r), "checkpoint_s": float(c), "budget_multiple": c / budget, "report_pct": report_at(r.incumbents, c)}
        for r in runs for c in (manifest.get("checkpoints_s") or [budget])])
    checkpoints.insert(checkpoints.columns.get_loc("report_pct"), "has_result", checkpoints["report_pct"].notna())
    checkpoints["regret_pp"] = optimum - checkpoints["report_pct"]
    fidelities = pd.DataFrame([
        {**_keys(r), "fidelity": fid, "evaluations": int(n), "simulated_s": float(t)}
        for r in runs for fid, (n, t) in r.evaluations.groupby("fidelity", sort=False)["cost"].agg(["size", "sum"]).iterrows()])
    trajectories = _per_run(runs, "incumbents", {"time": "time_s", "n_evals": "evaluations", "report": "report_pct"},
                            optimum)
    evaluations = _per_run(runs, "evaluations", {"start": "start_s", "end": "end_s", "cost": "cost_s"})
    return Results(public_manifest(manifest), table, checkpoints, fidelities, trajectories, evaluations)


def public_manifest(manifest: dict) -> dict:
    """``manifest`` without a path of this machine: a data source ``kind:PATH`` becomes ``kind`` (its checksum
    names it), any other absolute path its file name."""
    def clean(key, value):
        if isinstance(value, dict):
            return {k: clean(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(key, v) for v in value]
        if not isinstance(value, str):
            return value
        kind, sep, rest = value.partition(":")
        if sep and Path(rest).is_absolute():
            return kind
        return Path(value).name if Path(value).is_absolute() else value

    return {k: clean(k, v) for k, v in manifest.items()}


def load(folder: str | Path, target_regret: float = DEFAULT_TARGET_REGRET) -> Results:
    """The results of the ``compare`` folder ``folder`` as DataFrames."""
    with ResultStore(folder, create=False) as store:
        manifest, runs, wall = store.manifest(), store.runs(), store.wall_times()
    if manifest is None or not runs:
        raise UserError(f"no finished cells in {folder}")
    return results_frames(runs, manifest, wall, target_regret)


def export(folder: str | Path, fmt: str, out: str | Path | None = None) -> list[Path]:
    """Write the tables of :data:`TABLES` as ``fmt`` files and ``manifest.json`` to ``out`` (default
    ``folder/export``); return the paths."""
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
