"""The paired tests pair runs by seed, whatever the row order, and the corrections follow their formulas."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mfkdbench.report.stats import friedman, holm, wilcoxon_vs_reference
from mfkdbench.report.summary import paired_scores


def outcome_rows(seed=0, n_seeds=12):
    """Outcomes of three optimizers (one row per run, shuffled), where ``b`` beats ``ref`` in 10 of 12 seeds by
    seed-specific margins, so a pairing that mixes seeds changes the p-value."""
    rng = np.random.default_rng(seed)
    base = rng.normal(70, 3, n_seeds)  # large seed effect, small paired differences
    margin = np.r_[rng.uniform(0.1, 1.0, n_seeds - 2), -0.3, -0.05]
    finals = {"ref": base, "b": base + margin, "c": base + rng.normal(0, 0.5, n_seeds)}
    rows = [{"optimizer": name, "seed": s + 100, "final": float(v[s])} for name, v in finals.items()
            for s in range(n_seeds)]
    rows.append({"optimizer": "b", "seed": 999, "final": 99.0})  # a seed only one optimizer ran: never paired
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True), finals


@pytest.mark.parametrize("shuffle", [0, 1, 2])
def test_wilcoxon_pairs_by_seed_as_scipy_on_explicit_pairs(shuffle):
    frame, finals = outcome_rows(shuffle)
    scores = paired_scores(frame)
    assert list(scores.index) == list(range(100, 112))  # seed 999 dropped: only b ran it
    table = wilcoxon_vs_reference(scores, "ref").set_index("optimizer")
    p = [stats.wilcoxon(finals[name], finals["ref"], zero_method="zsplit").pvalue for name in ("b", "c")]
    assert table.loc["b", "p_value"] == pytest.approx(p[0], rel=1e-12)
    assert table.loc["c", "p_value"] == pytest.approx(p[1], rel=1e-12)
    assert (table.loc["b", "wins"], table.loc["b", "losses"]) == (10, 2)
    assert table.loc["b", "median_diff"] == pytest.approx(np.median(finals["b"] - finals["ref"]))
    assert list(table["p_holm"]) == pytest.approx(list(holm(p)))
    # the Friedman test over the same blocks, by scipy on the explicit columns
    fr = friedman(scores)
    assert fr.p_value == pytest.approx(stats.friedmanchisquare(*(finals[c] for c in scores.columns)).pvalue)
    assert fr.n_blocks == 12


def test_a_pairing_that_ignores_seeds_gives_another_answer():
    """The check above can fail: pairing b's runs with ref's in another order changes the p-value."""
    frame, finals = outcome_rows(0)
    mixed = stats.wilcoxon(finals["b"], finals["ref"][::-1], zero_method="zsplit").pvalue
    paired = wilcoxon_vs_reference(paired_scores(frame), "ref").set_index("optimizer").loc["b", "p_value"]
    assert abs(mixed - paired) > 1e-3


def holm_by_formula(p):
    """Holm's step-down adjusted p-values: ``min(1, max_{j <= i} (m - j + 1) p_(j))`` for the i-th smallest."""
    m, order = len(p), sorted(range(len(p)), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order, start=1):
        running = max(running, (m - rank + 1) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_its_formula(seed):
    rng = np.random.default_rng(seed)
    p = list(rng.uniform(0, 0.3, 7) ** 2) + [0.5, 0.0004]
    assert list(holm(p)) == pytest.approx(holm_by_formula(p), rel=1e-12)
    table = wilcoxon_vs_reference(pd.DataFrame({"ref": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                                                "x": [2.0, 3.0, 4.0, 5.0, 6.0, 8.0],
                                                "y": [1.5, 1.0, 3.5, 3.0, 5.5, 5.0]}), "ref")
    assert list(table["p_holm"]) == pytest.approx(holm_by_formula(list(table["p_value"])))
    assert list(table["significant"]) == [ph < 0.05 for ph in table["p_holm"]]


@pytest.mark.parametrize("confidence", [0.8, 0.99])
def test_bootstrap_interval_is_scipys_at_the_asked_confidence(confidence):
    from mfkdbench.report.stats import bootstrap_ci

    values = np.random.default_rng(3).normal(50, 5, 30)
    expected = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=2000,
                               method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert bootstrap_ci(values, confidence) == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert bootstrap_ci(values, 0.5)[1] - bootstrap_ci(values, 0.5)[0] < expected.high - expected.low
