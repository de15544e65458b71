"""Package hygiene: version, licence and citations agree with pyproject.toml and CITATION.cff."""
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from click_cli import cli

REPO = Path(__file__).resolve().parents[1]


def test_version_option_and_attribute_agree():
    import mfkdbench

    out = CliRunner().invoke(cli, ["--version"])
    assert out.exit_code == 0 and out.output.strip().endswith(mfkdbench.__version__)


def test_license_file_matches_pyproject():
    assert 'license = { text = "MIT" }' in (REPO / "pyproject.toml").read_text()
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_cite_prints_what_citation_cff_cites():
    cff = (REPO / "CITATION.cff").read_text()
    out = CliRunner().invoke(cli, ["cite"])
    assert out.exit_code == 0
    cff_dois = set(re.findall(r'doi: "([^"]+)"', cff))
    assert cff_dois == set(re.findall(r"doi\s*=\s*\{([^}]+)\}", out.output)) == \
        {"10.1109/ACCESS.2023.3234810", "10.1109/TPAMI.2021.3054824"}
    for title in re.findall(r'title: "([^"]+)"', cff)[1:]:  # the first title is the software's own
        assert title in out.output


def test_the_baselines_install_under_mfkdbench_only():
    """The baselines folder is the package ``mfkdbench.baselines`` (pyproject's package-dir); the registry never
    imports a top-level ``baselines`` (other projects' name), in a checkout or installed."""
    import subprocess
    import sys

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "baselines" not in config["packages"] and config["package-dir"]["mfkdbench.baselines"] == "baselines"
    code = ("import sys; from mfkdbench.search.optimizer import optimizer_class, optimizer_names; "
            "mods = {optimizer_class(n).__module__ for n in optimizer_names()}; "
            "assert 'baselines' not in sys.modules, 'top-level baselines imported'; "
            "assert 'mfkdbench.baselines.rea' in mods and all(m.startswith('mfkdbench.') for m in mods), mods")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_every_command_and_option_has_help_text():
    """Walks every click command and option (hidden ones excepted): each has help text."""
    import click

    missing = []

    def walk(command, path):
        if not command.help:
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help:
                missing.append(f"{path} {param.opts[0]}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(cli, "mfkdbench")
    assert not missing, missing
