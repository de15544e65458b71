"""The verdict: generated from the paired tests, the same in verdict.csv, the sentence and the statistics."""
import numpy as np
import pandas as pd
import pytest

from mfkdbench.report.verdict import verdict_table, verdict_text

FAMILIES = {"best": "target-only", "twin": "low-fidelity-only", "mfkd": "multi-fidelity", "hb": "multi-fidelity",
            "weak": "training-free"}


def outcome_frame(seeds: int = 12) -> pd.DataFrame:
    """``best`` clearly ahead of ``mfkd`` and ``weak``; ``twin`` equal to ``best`` up to noise; ``hb`` below mfkd."""
    rng = np.random.default_rng(0)
    base = 90 + rng.normal(0, 0.3, seeds)
    finals = {"best": base + 1.0, "twin": base + 1.0 + rng.normal(0, 0.05, seeds), "mfkd": base + 0.5,
              "hb": base + 0.5 - np.abs(rng.normal(0.3, 0.05, seeds)), "weak": base - 2.0}
    return pd.DataFrame([{"optimizer": n, "seed": s, "final": v[s]} for n, v in finals.items() for s in range(seeds)])


def test_verdict_names_the_best_its_ties_and_where_the_reference_stands():
    table = verdict_table(outcome_frame(), "mfkd", FAMILIES, (), 1000.0)
    roles = table.groupby("role")["optimizer"].apply(set)
    assert roles["best"] | roles["tied"] == {"best", "twin"} and len(roles["best"]) == 1
    ref = table[table.role == "reference"].iloc[0]
    assert ref["rank"] == 3 and ref["of"] == 5 and ref["diff_pp"] == pytest.approx(-0.5, abs=0.05) and ref.p_holm < 0.05
    fam = table[table.role == "family-best"].set_index("family")
    assert fam.loc["target-only", "outcome"] == "loss" and fam.loc["training-free", "outcome"] == "win"
    assert fam.loc["multi-fidelity", "optimizer"] == "hb" and fam.loc["multi-fidelity", "outcome"] == "win"
    assert fam.loc["low-fidelity-only", "outcome"] == "loss"
    (sentence,) = verdict_text(table, "mfkd")
    assert "ranks 3 of 5 by mean, -0.5" in sentence and "loses to target-only" in sentence
    assert "wins against training-free (weak" in sentence and "wins against multi-fidelity (hb" in sentence


def test_verdict_agrees_with_the_paired_tests_and_the_ranking():
    """Recomputed here from the outcomes alone with SciPy: the best mean, one Wilcoxon test per distinct pair (the
    best against each search, mfkd against each family's best), Holm over all of them, the order by mean."""
    from scipy.stats import wilcoxon

    from mfkdbench.report.stats import holm

    outcome = outcome_frame(8)
    scores = outcome.pivot(index="seed", columns="optimizer", values="final")
    means = scores.mean().sort_values(ascending=False)
    best = means.index[0]
    family_best = {}
    for name in means.index:
        if name != "mfkd":
            family_best.setdefault(FAMILIES[name], name)
    pairs = list(dict.fromkeys(frozenset(p) for p in [(best, n) for n in means.index if n != best]
                               + [("mfkd", n) for n in family_best.values()]))
    raw = [wilcoxon(scores[sorted(p)[0]], scores[sorted(p)[1]], zero_method="zsplit").pvalue for p in pairs]
    p_holm = dict(zip(pairs, holm(raw)))
    table = verdict_table(outcome, "mfkd", FAMILIES, (), 1000.0)
    assert table[table.role == "best"].optimizer.tolist() == [best]
    assert set(table[table.role == "tied"].optimizer) == {n for n in means.index[1:] if p_holm[frozenset((best, n))] >= 0.05}
    ref = table[table.role == "reference"].iloc[0]
    assert ref["rank"] == list(means.index).index("mfkd") + 1
    assert ref.p_holm == pytest.approx(p_holm[frozenset((best, "mfkd"))])
    assert ref.diff_pp == pytest.approx(means["mfkd"] - means.iloc[0])
    for row in table[table.role == "family-best"].itertuples():
        p = p_holm[frozenset(("mfkd", row.optimizer))]
        assert row.p_holm == pytest.approx(p)
        expected = "tie" if p >= 0.05 else ("win" if means["mfkd"] > means[row.optimizer] else "loss")
        assert row.outcome == expected, row.optimizer


def test_a_pair_named_twice_gets_one_answer():
    """mfkd best: its test against a family's best is the same test as the best's against that search."""
    outcome = outcome_frame(10)
    outcome.loc[outcome.optimizer == "mfkd", "final"] += 2.0  # now the best
    table = verdict_table(outcome, "mfkd", FAMILIES, (), 1000.0)
    tied = set(table[table.role == "tied"].optimizer)
    for row in table[table.role == "family-best"].itertuples():
        assert (row.outcome == "tie") == (row.optimizer in tied)


def test_a_search_without_a_result_at_a_checkpoint_is_named_not_ranked():
    outcome = outcome_frame(6)
    outcome["final@100"] = outcome["final"]
    outcome.loc[(outcome.optimizer == "weak") & (outcome.seed == 2), "final@100"] = np.nan
    outcome["final@1000"] = outcome["final"]
    table = verdict_table(outcome, "mfkd", FAMILIES, (100.0, 1000.0), 1000.0)
    early = table[table.checkpoint_s == 100]
    assert early[early.role == "no result yet"].optimizer.tolist() == ["weak"]
    assert "weak" not in set(early[early.role != "no result yet"].optimizer)
    assert (early[early.role == "reference"]["of"] == 4).all()
    first, last = verdict_text(table, "mfkd")
    assert first.startswith("At 0.1x budget (100 s, 6 seeds)") and first.endswith("No result yet in every seed: weak.")
    assert last.startswith("At 1x budget (1,000 s, 6 seeds)") and "weak" in last


def test_a_long_tie_names_the_five_closest_and_counts_the_rest():
    """With many searches tied with the best, the sentence stays readable: the closest five, then a count."""
    rng = np.random.default_rng(1)
    base = 90 + rng.normal(0, 0.3, 4)
    finals = {f"s{i:02d}": base + rng.normal(0, 0.4, 4) - 0.01 * i for i in range(12)}
    outcome = pd.DataFrame([{"optimizer": n, "seed": s, "final": v[s]} for n, v in finals.items() for s in range(4)])
    table = verdict_table(outcome, None, {n: "target-only" for n in finals}, (), 1000.0)
    tied = table[table.role == "tied"].sort_values("diff_pp", ascending=False)
    assert len(tied) == 11  # four seeds: nothing is significant
    (sentence,) = verdict_text(table, None)
    named = ", ".join(f"{t.optimizer} ({t.diff_pp:+.2f} pp)" for t in tied.head(5).itertuples())
    assert f"with 11 searches, {named} and 6 more (verdict.csv)." in sentence
    assert all(name not in sentence for name in tied.optimizer.iloc[5:])
