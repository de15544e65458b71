"""The vectorised bootstrap of the correlation study equals scipy on the resampled arrays, and reports progress."""
import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from mfkdbench.lowfi.correlation import _group_weights, _resampled_kendall, _resampled_spearman


@pytest.mark.parametrize("decimals", [0, 2])  # many ties, few ties
def test_resampled_statistics_equal_scipy_on_each_resample(decimals):
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=300) * 3, decimals)
    y = np.round(x + rng.normal(size=300), decimals)
    draws = rng.integers(len(x), size=(7, len(x)))
    counts = _group_weights(np.ones_like(draws), draws, len(x))
    np.testing.assert_allclose(_resampled_spearman(x, y, counts), [spearmanr(x[d], y[d])[0] for d in draws], atol=1e-12)
    np.testing.assert_allclose(_resampled_kendall(x, y, counts), [kendalltau(x[d], y[d])[0] for d in draws], atol=1e-12)


def test_correlation_reports_progress_lines_in_a_log(tables, capsys):
    from mfkdbench.lowfi.correlation import correlation_table

    table = correlation_table("cifar100", "kd240", bootstrap=500, tables=tables, show_progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("correlation cifar100")]
    assert lines and lines[-1].startswith(f"correlation cifar100: bootstrap: {2 * len(table)}/{2 * len(table)} chunks")
    low, high = (float(v) for v in table.set_index("low fidelity").loc["nst12 (CE+25 NST, 12 ep)", "spearman 95% CI"]
                 .strip("[]").split(","))
    rho = table.set_index("low fidelity").loc["nst12 (CE+25 NST, 12 ep)", "spearman"]
    assert low < rho < high and high - low < 0.2
