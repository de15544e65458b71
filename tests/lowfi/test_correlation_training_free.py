"""The correlation study's training-free rows, NAS-Bench-Suite-Zero's proxies and the top-1 % share (issue 20)."""
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import spearmanr

from mfkdbench.lowfi.catalog import benchmark_names, load_benchmark
from mfkdbench.lowfi.correlation import correlation_table, top_share

FREE_ROWS = {"params (training-free, none)": 15625, "flops (training-free, none)": 15625,
             "zen (training-free, gaussian-inputs)": 15625, "naswot (training-free, cifar10-train-unlabelled)": 15284}


def test_top_share_by_hand():
    target = np.array([5.0, 4, 3, 2, 1])
    assert top_share(target, target, 40) == 1.0  # k = 2
    assert top_share(-target, target, 40) == 0.0
    assert top_share(np.array([1.0, 1, 1, 1, 0]), target, 20) == pytest.approx(0.25)  # one of four tied cells
    assert top_share(np.array([0.0, 9, 1, 1, 1]), target, 40) == pytest.approx(0.5)  # cell 1; the tie is outside
    assert top_share(np.array([9.0, 0, 1, 1, 1]), target, 40) == pytest.approx(0.5)
    assert top_share(np.array([2.0, 9, 2, 2, 0]), target, 40) == pytest.approx((1 + 1 / 3) / 2)  # + a third of a tie


@pytest.fixture(scope="module")
def c100_table(tables):
    return correlation_table("cifar100", "all", 20, tables=tables).set_index("low fidelity")


def test_cifar100_lists_every_training_free_fidelity_with_intervals(c100_table, tables):
    for label, cells in FREE_ROWS.items():
        row = c100_table.loc[label]
        assert row["cells"] == cells and row["spearman 95% CI"].startswith("[")
    params = tables.get("cifar100", "params_mb")
    assert c100_table.loc["params (training-free, none)", "spearman"] == pytest.approx(
        spearmanr(params, tables.get("cifar100", "test_acc_200"))[0])
    assert 0.70 < c100_table.loc["params (training-free, none)", "spearman"] < 0.76  # the 0.73
    assert c100_table.loc["ce12 (CE, 12 ep)", "top1%"] > c100_table.loc["params (training-free, none)", "top1%"]


def test_suite_zero_proxies_on_their_cells_only(c100_table, tables):
    zc = c100_table[c100_table.index.str.startswith("zc:")]
    assert len(zc) == 12 and set(zc["cells"]) <= {724, 725}
    assert zc.loc["zc:synflow", "spearman"] > 0.7
    kd = correlation_table("cifar100", "kd240", 0, tables=tables)  # the suite scored 4 of these cells: no row
    assert not kd["low fidelity"].str.startswith("zc:").any() and (kd["cells"] >= 30).all()
    assert "params (training-free, none)" in set(kd["low fidelity"])


def test_suite_zero_proxies_never_reach_a_search(data_dir):
    for name in benchmark_names():
        assert not [f for f in load_benchmark(name, str(data_dir)).fidelities if f.startswith("zc:") or "synflow" in f]


def test_cli_lists_them(data_dir):
    out = subprocess.run([sys.executable, "-m", "click_cli", "correlation", "--dataset", "cifar100", "--bootstrap", "10",
                          "--quiet", "--data", str(data_dir)], capture_output=True, text=True, check=True).stdout
    for name in ("params", "flops", "zen", "naswot", "zc:synflow", "spearman 95% CI", "top1%"):
        assert name in out
