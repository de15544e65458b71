"""One search under a named preset, and its text summary (the ``mfkdbench run`` command)."""
from __future__ import annotations

import json
import time

from mfkdbench.nb201.benchmark import Benchmark
from mfkdbench.lowfi.catalog import load_benchmark
from mfkdbench.lowfi.live import LiveSetting
from mfkdbench.search.optimizer import option_text, options_from_text
from mfkdbench.search.presets import DEFAULT_PRESET, get_preset
from mfkdbench.search.simulator import Budget, Run, simulate, spec_options


def run_preset(optimizer: str, dataset: str, preset: str = DEFAULT_PRESET, *, seconds: float | None = None,
               evaluations: int | None = None, overshoot: bool = True, n_workers: int = 1, seed: int = 0,
               seed_mode: str = "mean", charge_overhead: bool = False, data: str | None = None,
               optimizer_options: dict | None = None, lowfi_store: str | None = None,
               live: LiveSetting | None = None) -> tuple[Benchmark, Run]:
    """Load ``dataset`` and run ``optimizer`` under ``preset``; ``seconds`` overrides the preset's budget.

    ``lowfi_store``: a low-fidelity store file whose 12-epoch NST runs become the
    ``nst12`` fidelity, the search limited to the cells they cover (``<dataset>-store``).
    ``live``: the whole space, with ``nst12`` trained on demand (``<dataset>-live``,
    :func:`mfkdbench.lowfi.catalog.live_benchmark`).
    """
    protocol = get_preset(preset)
    make_job = None
    if live is not None:
        from mfkdbench.train.jobs import check_live, setting_job as make_job

        check_live(live)
    benchmark = load_benchmark(dataset, data, seed_mode, lowfi_store, live, make_job)
    if seconds is None:
        seconds = protocol.budget_for(benchmark.dataset)
    budget = Budget(seconds, evaluations, overshoot).check_size(benchmark, protocol.target_fidelity, n_workers)
    run = simulate(benchmark, optimizer, seed, budget, n_workers=n_workers,
                   target_fidelity=protocol.target_fidelity, charge_overhead=charge_overhead,
                   optimizer_options=optimizer_options)
    return benchmark, run


def run_text(benchmark: Benchmark, run: Run, preset: str, timing: bool = False, wall_s: float | None = None) -> str:
    """The incumbent's trajectory and final report; byte-identical for equal runs unless ``timing``."""
    cfg, budget = run.config, run.config["budget"]
    limits = []
    if budget["seconds"] is not None:
        limits.append(f"{budget['seconds']:g} s ({'last evaluation may overshoot' if budget['overshoot'] else 'cut at the budget'})")
    if budget["evaluations"] is not None:
        limits.append(f"{budget['evaluations']} evaluations")
    ev = run.evaluations
    end = float(ev["end"].max()) if len(ev) else 0.0
    lines = [
        f"{run.optimizer} on {run.benchmark}, preset {preset}, seed {run.seed}, {cfg['n_workers']} worker(s), "
        f"seed mode {cfg['seed_mode']}",
        f"{cfg['family']} search, target fidelity {cfg['target_fidelity']}, fidelities on offer: "
        f"{', '.join(cfg['fidelities'])}; budget: {' and '.join(limits)}",
        f"options: {', '.join(f'{k}={option_text(v)}' for k, v in cfg['optimizer_options'].items()) or 'defaults'}; "
        f"recommends: {cfg['recommendation']}",
        f"evaluations: {len(ev)}, simulated time used: {end:.1f} s; per fidelity: {per_fidelity(ev)}",
        f"incumbent trajectory ({run.report_metric} looked up after the search, never shown to the optimizer):",
        f"{'time_s':>10} {'n_evals':>7} {'index':>6} {'fidelity':>8} {'score':>8} {run.report_metric:>12}  arch",
    ]
    for row in run.incumbents.itertuples(index=False):
        lines.append(f"{row.time:10.1f} {row.n_evals:7d} {row.index:6d} {row.fidelity:>8} {row.score:8.3f} "
                     f"{row.report:12.3f}  {benchmark.space.arch(row.index)}")
    if run.final_index < 0:
        lines.append("final: no successful evaluation, no incumbent")
    else:
        optimum = benchmark.optimum
        lines.append(f"final: index {run.final_index} {benchmark.space.arch(run.final_index)}")
        lines.append(f"final {run.report_metric}: {run.final_report:.3f} (optimum {optimum:.3f}, "
                     f"regret {optimum - run.final_report:.3f})")
    if timing:
        lines.append(f"timing (wall clock, varies between runs): optimizer ask/tell {run.overhead_s * 1e3:.2f} ms"
                     f"{' (charged to the clock)' if cfg['charge_overhead'] else ' (not charged)'}"
                     + ("" if wall_s is None else f", whole run {wall_s * 1e3:.2f} ms"))
    return "\n".join(lines)


def per_fidelity(evaluations) -> str:
    """``ce12 30 evals 6,012 s, 200 8 evals 31,221 s``: evaluations and simulated time at each fidelity."""
    groups = evaluations.groupby("fidelity", sort=False)["cost"].agg(["size", "sum"])
    return ", ".join(f"{name} {int(n)} evals {t:,.0f} s" for name, (n, t) in groups.iterrows()) or "none"


def run_record(benchmark: Benchmark, run: Run, preset: str, timing: bool = False) -> dict:
    """The run as plain data (``run --json``): configuration, final cell, regret, evaluations and incumbent
    trajectory (one record per row); the same every time unless ``timing`` adds the measured overhead."""
    final = run.final_index >= 0
    record = {
        "optimizer": run.optimizer, "benchmark": run.benchmark, "seed": run.seed, "preset": preset, "config": run.config,
        "report_metric": run.report_metric, "optimum": float(benchmark.optimum),
        "final_index": run.final_index, "final_arch": str(benchmark.space.arch(run.final_index)) if final else None,
        "final_report": run.final_report if final else None,
        "regret": float(benchmark.optimum - run.final_report) if final else None,
        "evaluations": run.evaluations.to_dict(orient="records"),
        "incumbents": run.incumbents.to_dict(orient="records"),
    }
    if timing:
        record["overhead_s"] = run.overhead_s
    return record


def run_command(optimizer: str, dataset: str, preset: str = DEFAULT_PRESET, *, timing: bool = False, as_json: bool = False,
                option_texts: dict[str, str] | None = None, **kwargs) -> str:
    """Run a search and return its summary text, or its :func:`run_record` as JSON; ``option_texts``: the
    optimizer's options as text (``--option K=V``), read as each option's type."""
    t0 = time.perf_counter()
    options = options_from_text(spec_options(optimizer.partition("@")[0])[0], option_texts or {})
    benchmark, run = run_preset(optimizer, dataset, preset, optimizer_options=options, **kwargs)
    if as_json:
        return json.dumps(run_record(benchmark, run, preset, timing), indent=1, default=_plain)
    return run_text(benchmark, run, preset, timing, time.perf_counter() - t0)


def _plain(value):
    """numpy scalars (DataFrame records) as JSON numbers."""
    return value.item()
