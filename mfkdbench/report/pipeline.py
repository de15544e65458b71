"""The ``compare``, ``figures`` and ``paper`` commands: run a grid into a store, then render it."""
from __future__ import annotations

import math
import sys
from pathlib import Path

from mfkdbench.errors import UserError
from mfkdbench.experiments.executors import make_executor
from mfkdbench.experiments.grid import make_protocol, plan_comparison, run_comparison
from mfkdbench.search.presets import get_preset
from mfkdbench.report.aggregate import render_aggregate
from mfkdbench.report.render import match_label, render, render_panels, results_folders
from mfkdbench.experiments.store import STORE_FILE, ResultStore, check_result_folder
from mfkdbench.inputs import check_output_folder

#: the paper's comparisons: (benchmark, preset); KD data exists for 240 CIFAR-100 cells only
PAPER_BENCHMARKS = (("cifar10", None), ("cifar100", None), ("imagenet16-120", None), ("cifar100-kd240", "hf200"))


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def compare(dataset: str, seeds: int, optimizers: list[str] | None = None, preset: str | None = None,
            budget_s: float | None = None, target_fidelity: str | None = None, sim_workers: int = 1,
            seed_mode: str = "mean", workers: int | None = None, executor: str = "local",
            scheduler: str | None = None, out: str | Path | None = None, data: str | None = None,
            reference: str | None = None, target_regret: float | None = None, progress: bool = True,
            lowfi_store: str | Path | None = None, live=None, band: str = "iqr") -> str:
    """Run the missing cells of the grid into ``out`` and render its outputs; return the terminal text.

    ``live``: a :class:`~mfkdbench.lowfi.live.LiveSetting`, the low fidelity ``nst12`` trained on demand.
    """
    runner = make_executor(executor, workers, scheduler)
    protocol = make_protocol(dataset, data, preset, budget_s, target_fidelity, sim_workers, seed_mode, lowfi_store,
                             live)
    wanted = get_preset(protocol.preset).target_fidelity if protocol.preset else protocol.target_fidelity
    if target_fidelity is None and wanted != protocol.target_fidelity:
        _note(f"note: this data has no '{wanted}' fidelity; "
              f"searching on '{protocol.target_fidelity}' with {protocol.preset}'s budget")
    plan = plan_comparison(protocol, data, seeds, optimizers)
    regret = _regret_options(target_regret)
    out = check_result_folder(f"results/{plan.manifest['benchmark']}" if out is None else out)
    if reference is not None:
        _check_reference(reference, plan, out)
    for name, reason in plan.skipped.items():
        _note(f"skipped {name}: {reason}")
    with runner, ResultStore(out) as store:  # every input is valid: connect, then write the manifest
        run_comparison(plan, store, runner, progress)
    rendered = render(out, reference, band=band, **regret)
    return rendered.text + f"\nwrote {len(rendered.files)} files to {out}"


def _check_reference(reference: str, plan, out: Path) -> None:
    """:class:`UserError` unless ``reference`` is planned or already stored in ``out`` (read-only)."""
    names = {c.optimizer for c in plan.cells}
    if (out / STORE_FILE).is_file():
        with ResultStore(out, create=False) as store:
            names |= store.optimizers()
    if match_label(reference, names) is None:
        raise UserError(f"--reference {reference!r} is not among the optimizers of this comparison "
                        f"({', '.join(sorted(names))}); name one of them")


def _regret_options(target_regret: float | None) -> dict:
    """``render``'s target regret option; :class:`UserError` unless a finite number >= 0."""
    if target_regret is None:
        return {}
    if not (math.isfinite(target_regret) and target_regret >= 0):
        raise UserError(f"--target-regret must be a finite number of points >= 0, got {target_regret}")
    return {"target_regret": target_regret}


def figures_command(results: str | Path, reference: str | None = None, target_regret: float | None = None,
                    band: str = "iqr") -> str:
    """Re-render every results folder under ``results`` from its store; with several, also the figure with a
    panel per folder (``results/regret_all``) and every search over all of them (``results/aggregate.*``)."""
    regret = _regret_options(target_regret)
    texts, folders = [], results_folders(results)
    for folder in folders:
        rendered = render(folder, reference, band=band, **regret)
        texts.append(rendered.text + f"\nwrote {len(rendered.files)} files to {folder}")
    if len(folders) > 1:
        texts.append(f"wrote {render_panels(folders, Path(results) / 'regret_all', band)[0]}")
        texts += [f"wrote {p}" for p in render_aggregate(folders, Path(results)) if p.suffix in (".md", ".png")]
    return "\n".join(texts)


def paper(out: str | Path, seeds: int, workers: int | None = None, executor: str = "local",
          scheduler: str | None = None, data: str | None = None, progress: bool = True, band: str = "iqr") -> str:
    """The paper's set: every dataset, the KD subset and the correlation study, with ``index.html``."""
    from mfkdbench.lowfi.catalog import benchmark_names
    from mfkdbench.report.paper import correlation_outputs, write_index

    out = Path(out)
    available = set(benchmark_names())
    check_output_folder(out, "paper folder", ("index.html",))  # every output folder before the first write
    for bench, _ in PAPER_BENCHMARKS:
        if bench in available:
            check_result_folder(out / bench)
    check_output_folder(out / "correlation", "correlation folder")
    done = []
    for step, (bench, preset) in enumerate(PAPER_BENCHMARKS, 1):
        if bench not in available:
            _note(f"skipped {bench}: not a registered benchmark in this installation")
            continue
        if progress:
            _note(f"paper: step {step}/{len(PAPER_BENCHMARKS) + 1}, {bench} (cells, then tables and figures)")
        compare(bench, seeds, preset=preset, workers=workers, executor=executor, scheduler=scheduler,
                out=out / bench, data=data, progress=progress, band=band)
        done.append(bench)
    if not done:
        raise UserError("no benchmark of the paper's set could run")
    if progress:
        _note(f"paper: step {len(PAPER_BENCHMARKS) + 1}/{len(PAPER_BENCHMARKS) + 1}, "
              "the figure of every benchmark, the correlation study and index.html")
    panels = render_panels([out / bench for bench in done], out / "regret_all", band)
    aggregate = render_aggregate([out / bench for bench in done], out)
    correlation = correlation_outputs(out / "correlation", data, progress)
    index = write_index(out, done, panels, correlation, band, aggregate)
    return f"wrote the paper's figures and tables for {', '.join(done)} to {out}; open {index}"
