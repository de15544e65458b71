"""Hyperband, BOHB and NB201's BOHB: rung ladders, bracket schedules, the KDE model, runs on real data."""
import itertools

import numpy as np
import pytest

from mfkdbench.baselines.bohb import AitchisonAitkenKDE, fit_tpe, hpbandster_levels
from mfkdbench.baselines.hyperband import bracket_sizes, rung_ladder
from mfkdbench import load_benchmark
from mfkdbench.nb201.benchmark import Fidelity
from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import Trial, make_optimizer
from mfkdbench.search.simulator import Budget, search_fidelities, simulate


@pytest.fixture(scope="module")
def c10(data_dir):
    return load_benchmark("cifar10", str(data_dir))


@pytest.fixture(scope="module")
def c100(data_dir):
    return load_benchmark("cifar100", str(data_dir))


def test_rung_ladder_from_the_fidelities_on_offer(c10, c100):
    # CIFAR-10's per-epoch ce12@E curve is measured on test images: never a rung
    assert rung_ladder(search_fidelities(c10, "200"), 3) == ["ce12", "200"]
    assert rung_ladder(search_fidelities(c10, "ce12"), 3) == ["ce12"]
    assert rung_ladder(search_fidelities(c100, "200"), 3) == ["ce12", "200"]
    curve = {f"ce12@{e}": Fidelity(f"ce12@{e}", e, 0, "validation curve") for e in (1, 3, 4, 6)}
    assert rung_ladder({**search_fidelities(c100, "200"), **curve}, 3) == ["ce12@1", "ce12@4", "ce12", "200"]
    assert rung_ladder({**search_fidelities(c100, "200"), **curve}, 2) == ["ce12@1", "ce12@3", "ce12@6", "ce12", "200"]
    # a knowledge-distillation fidelity does not enter the plain Hyperband ladder
    with_kd = {**search_fidelities(c100, "200"), "nst12@4": Fidelity("nst12@4", 4, 0, "KD")}
    assert rung_ladder(with_kd, 3) == ["ce12", "200"]


def test_bracket_sizes_are_li_et_al_schedule():
    assert bracket_sizes(4, 3) == [[27, 9, 3, 1], [12, 4, 1], [6, 2], [4]]
    assert bracket_sizes(3, 3) == [[9, 3, 1], [5, 1], [3]]
    assert bracket_sizes(2, 3) == [[3, 1], [2]]
    assert hpbandster_levels(12, 200, 3) == 3 and hpbandster_levels(3, 108, 3) == 4


def test_hyperband_run_follows_the_schedule_and_promotes_the_best(c10):
    run = simulate(c10, "hyperband", 5, Budget(evaluations=12))  # two full rounds of the 2 brackets
    ev = run.evaluations
    assert ev["fidelity"].value_counts().to_dict() == {"ce12": 3 + 3, "200": 1 + 2 + 1 + 2}
    assert list(ev["fidelity"]) == ["ce12"] * 3 + ["200"] * 3 + ["ce12"] * 3 + ["200"] * 3
    for start in (0, 6):
        rung = ev.iloc[start:start + 3].sort_values("score", ascending=False, kind="stable")
        assert ev.iloc[start + 3]["index"] == rung["index"].iloc[0]
    # new brackets use new cells
    assert ev[ev["fidelity"] == "ce12"]["index"].is_unique


def test_parallel_workers_start_the_next_bracket_instead_of_idling(c10):
    ev = simulate(c10, "hyperband", 0, Budget(evaluations=120), n_workers=4).evaluations
    rung1 = ev[ev["fidelity"] == "ce12"]["index"]
    first_promotion = ev[(ev["fidelity"] == "200") & ev["index"].isin(rung1)]["start"].min()
    new_at_top = ev[(ev["fidelity"] == "200") & ~ev["index"].isin(rung1)]
    assert len(new_at_top) and new_at_top["start"].min() < first_promotion  # bracket 2 ran while bracket 1 waited
    # no worker waits: whenever a trial ends (before the last start), another one starts at once
    ends = ev["end"][ev["end"] < ev["start"].max()]
    assert set(ends) <= set(ev["start"])


def test_failed_trials_are_never_promoted(c100):
    opt = make_optimizer("hyperband", c100.space, search_fidelities(c100, "200"), np.random.default_rng(0))
    asked = [opt.ask() for _ in range(3)]  # bracket s=1: 3 cells on ce12, the best goes to 200
    assert [f for _, f in asked] == ["ce12"] * 3
    assert opt.ask()[1] == "200"  # first bracket waits, so the next one (s=0, 2 cells at 200) starts
    for i, ((index, fid), score) in enumerate(zip(asked, [float("nan"), 40.0, 60.0])):
        opt.tell(Trial(i, index, fid), score, 1.0)
    # bracket 1 is complete: its best finite cell is promoted, never the NaN one
    assert opt.ask() == (asked[2][0], "200")


def test_bad_options_are_user_errors(c10):
    fids = search_fidelities(c10, "200")
    rng = np.random.default_rng(0)
    for name, options in (("hyperband", {"eta": 1}), ("hyperband", {"rungs": ["ce12", "nope"]}),
                          ("bohb", {"top_n_percent": 0}), ("bohb-nb201", {"rungs": "ce12"})):
        with pytest.raises(UserError):
            make_optimizer(name, c10.space, fids, rng, **options)
    with pytest.raises(UserError):  # measured on test images: not on offer
        make_optimizer("hyperband", c10.space, fids, rng, rungs="ce12@3, 200")
    opt = make_optimizer("hyperband", c10.space, fids, rng, rungs="ce12, 200")
    assert opt.ladder == ["ce12", "200"]


def test_aitchison_aitken_kde_is_a_density():
    rng = np.random.default_rng(1)
    kde = AitchisonAitkenKDE(rng.integers(5, size=(12, 3)), 5, 1e-3)
    grid = np.array(list(itertools.product(range(5), repeat=3)))
    assert kde.pdf(grid).sum() == pytest.approx(1.0)
    assert ((kde.bw >= 1e-3) & (kde.bw <= 0.8)).all()
    # a single repeated point with tiny bandwidth concentrates the mass there
    point = AitchisonAitkenKDE(np.tile([1, 2, 3], (8, 1)), 5, 1e-3)
    assert point.pdf(np.array([[1, 2, 3]]))[0] == pytest.approx((1 - 1e-3) ** 3)


def test_tpe_model_prefers_the_good_region():
    """Toy: 40 random cells and 20 one-edge mutants of the all-3 cell, scored by their number of 3s.

    The model's picks (best of 64 draws, as BOHB makes them) should carry far
    more 3s than random cells (6/5 = 1.2 on average).
    """
    rng = np.random.default_rng(0)
    mutants = np.full((20, 6), 3)
    mutants[np.arange(20), rng.integers(6, size=20)] = rng.integers(3, size=20)
    ops = np.vstack([rng.integers(5, size=(40, 6)), mutants])
    scores = (ops == 3).sum(axis=1) + rng.normal(0, 0.1, len(ops))
    scores[:3] = np.nan  # failed trials rank last
    assert fit_tpe(ops[:13], scores[:13], min_points_in_model=7, top_n_percent=15, min_bandwidth=1e-3) is None
    model = fit_tpe(ops, scores, min_points_in_model=7, top_n_percent=15, min_bandwidth=1e-3)
    assert model is not None
    assert model.acquisition(np.full((1, 6), 3))[0] < model.acquisition(np.zeros((1, 6), dtype=int))[0]
    picks = []
    for _ in range(50):
        draws = model.good.sample_around(rng, 64)
        picks.append((draws[np.argmin(model.acquisition(draws))] == 3).sum())
    assert np.mean(picks) > 3.0


def test_bohb_beats_hyperband_on_average(c10):
    budget = Budget(seconds=2e5)
    hb = [simulate(c10, "hyperband", s, budget).final_report for s in range(6)]
    bohb = [simulate(c10, "bohb", s, budget).final_report for s in range(6)]
    assert np.mean(bohb) > np.mean(hb)


def test_bohb_nb201_ignores_budgets_like_nb201(c10):
    run = simulate(c10, "bohb-nb201@ce12", 0, Budget(evaluations=13))  # first bracket: 9 -> 3 -> 1, all on ce12
    ev = run.evaluations
    assert run.optimizer == "bohb-nb201@ce12" and run.config["family"] == "low-fidelity-only"
    assert set(ev["fidelity"]) == {"ce12"}
    best9 = ev.iloc[:9].sort_values("score", ascending=False, kind="stable")["index"]
    assert list(ev["index"].iloc[9:12]) == list(best9[:3])  # promotions re-evaluate the same cells
    assert ev["index"].iloc[12] == best9.iloc[0] and ev["cost"].iloc[12] == ev.loc[ev["index"] == best9.iloc[0], "cost"].iloc[0]
    # the incumbent comes from the top rung only: nothing before the 13th result
    assert list(run.incumbents["n_evals"]) == [13] and run.final_index == best9.iloc[0]


def test_bohb_nb201_drops_the_evaluation_crossing_the_budget(c10):
    run = simulate(c10, "bohb-nb201@ce12", 1, Budget(seconds=12000))
    assert run.config["budget"]["overshoot"] is False and run.evaluations["end"].max() <= 12000
    opt = make_optimizer("bohb-nb201", c10.space, search_fidelities(c10, "ce12"), np.random.default_rng(0))
    assert (opt.num_samples, opt.random_fraction, opt.min_bandwidth) == (4, 0.0, 0.3)


def test_bohb_nb201_reproduces_the_nb201_table(c10):
    """NB201 (ICLR 2020) Table 5, CIFAR-10 test accuracy of BOHB: 93.61 +- 0.52 (12,000 s, 12-epoch search)."""
    reports = [simulate(c10, "bohb-nb201", s, Budget(seconds=12000), target_fidelity="ce12").final_report
               for s in range(16)]
    assert abs(np.mean(reports) - 93.61) < 0.35
    assert 0.2 < np.std(reports) < 1.0


@pytest.mark.parametrize("n,top,good,bad", [(100, 30, 30, 70), (100, 10, 10, 90), (20, 15, 7, 13), (60, 50, 30, 30)])
def test_tpe_good_and_bad_sets_follow_hpbandster(n, top, good, bad):
    """The best ``max(min_points, top% of n)`` results are "good", the next ``max(min_points, (100 - top)% of n)``
    (as many as remain) "bad"; failed trials rank last."""
    rng = np.random.default_rng(n + top)
    ops = rng.integers(5, size=(n, 6))
    scores = rng.permutation(n).astype(float)
    scores[0] = np.nan
    model = fit_tpe(ops, scores, min_points_in_model=7, top_n_percent=top, min_bandwidth=1e-3)
    ranked = ops[np.argsort(np.where(np.isnan(scores), -np.inf, scores))[::-1]]
    np.testing.assert_array_equal(model.good.data, ranked[:good])
    np.testing.assert_array_equal(model.bad.data, ranked[good:good + bad])
