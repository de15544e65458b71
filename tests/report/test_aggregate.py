"""Every search over all benchmarks: average rank and normalised regret per budget multiple."""
import pandas as pd
import pytest

from mfkdbench.report.aggregate import aggregate_table


def test_average_rank_and_normalised_regret_over_benchmarks():
    rows = []
    for bench, means in (("a", {"x": 90.0, "y": 89.0, "z": 85.0, "only-a": 95.0}), ("b", {"x": 70.0, "y": 72.0, "z": 60.0})):
        for name, mean in means.items():
            for m, shift in ((0.1, -1.0), (1.0, 0.0)):
                rows.append({"benchmark": bench, "optimizer": name, "budget_multiple": m, "report_pct": mean + shift,
                             "regret_pp": 100 - mean - shift})
    table, left_out = aggregate_table(pd.DataFrame(rows))
    assert left_out == ["only-a"]  # not on every benchmark: not ranked against the others
    final = table[table.budget_multiple == 1.0].set_index("optimizer")
    assert final["average_rank"].to_dict() == {"x": 1.5, "y": 1.5, "z": 3.0}
    # a: regrets 10, 11, 15 -> 0, 0.2, 1; b: 30, 28, 40 -> 1/6, 0, 1
    assert final["normalised_regret"].to_dict() == pytest.approx({"x": (0 + 1 / 6) / 2, "y": 0.1, "z": 1.0})
    assert (final["benchmarks"] == 2).all() and set(table.budget_multiple) == {0.1, 1.0}
