"""README's "Adding a baseline": one new file in baselines/ runs in compare and is collected by the conformance test.

A copy of the package (``mfkdbench/`` with its link to ``baselines/``, and ``click_cli.py``) gets the README's
example as ``baselines/greedy_mutation.py``; the repository itself is never changed.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def readme_baseline() -> str:
    text = (REPO / "README.md").read_text()
    return re.search(r"```python\n(\"\"\"Greedy mutation.*?)```", text, re.S).group(1)


def test_a_new_baseline_file_runs_in_compare_and_is_conformance_tested(tmp_path):
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "mfkdbench", checkout / "mfkdbench", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "baselines", checkout / "baselines", ignore=ignore)
    shutil.copy(REPO / "click_cli.py", checkout)
    (checkout / "baselines" / "greedy_mutation.py").write_text(readme_baseline())
    env = {**os.environ, "PYTHONPATH": str(checkout)}

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "click_cli", "compare", "--dataset", "cifar100", "--seeds", "2", "--budget", "200000",
           "--optimizers", "greedy-mutation@200,rea@200", "--workers", "1", "--quiet", "--out", str(out)]
    done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    runs = pd.read_csv(out / "outcomes.csv")
    assert sorted(runs["optimizer"].unique()) == ["greedy-mutation@200", "rea@200"] and len(runs) == 4

    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               str(REPO / "tests" / "search" / "test_conformance.py")]
    listed = subprocess.run(collect, cwd=checkout, env=env, capture_output=True, text=True).stdout
    assert "test_same_seed_same_trajectory[greedy-mutation-4]" in listed


def test_plain_pytest_collects_every_optimizer_from_any_folder(tmp_path):
    """``pytest`` run from another folder (no checkout on sys.path but the installed or PYTHONPATH package)
    collects every registered optimizer: nothing named ``baselines`` can shadow the baselines."""
    from mfkdbench.search.optimizer import optimizer_names

    collect = [sys.executable, "-P", "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               "--rootdir", str(REPO), str(REPO / "tests" / "search" / "test_conformance.py")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    listed = subprocess.run(collect, cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    found = set(re.findall(r"test_registered_and_documented\[(.+?)\]", listed))
    assert found == set(optimizer_names()) and len(found) >= 11
