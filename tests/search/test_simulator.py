"""The simulated clock: budget rules, workers, incumbent, NaN results, seeds, presets and the ``run`` command."""
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from mfkdbench import load_benchmark
from mfkdbench.nb201.benchmark import Fidelity, FidelityTable
from mfkdbench.search import optimizer as optimizer_module
from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import Optimizer
from mfkdbench.search.simulator import PRESETS, Budget, get_preset, search_fidelities, simulate


@pytest.fixture(scope="module")
def c10(data_dir):
    return load_benchmark("cifar10", str(data_dir))


def test_sequential_clock_charges_benchmark_cost(c10):
    run = simulate(c10, "random", 3, Budget(12_000), target_fidelity="ce12")
    ev = run.evaluations
    np.testing.assert_array_equal(ev["start"].to_numpy()[1:], ev["end"].to_numpy()[:-1])
    assert ev["start"].iloc[0] == 0.0
    expected = [c10.cost(i, "ce12") for i in ev["index"]]
    np.testing.assert_allclose(ev["cost"], expected)
    np.testing.assert_allclose(ev["end"] - ev["start"], expected)
    np.testing.assert_allclose(ev["score"], [c10.score(i, "ce12") for i in ev["index"]])
    assert set(ev["worker"]) == {0}
    assert list(ev["trial_id"]) == list(range(len(ev)))


def test_overshoot_and_cut_rules(c10):
    over = simulate(c10, "rea", 1, Budget(5_000, overshoot=True), target_fidelity="ce12").evaluations
    cut = simulate(c10, "rea", 1, Budget(5_000, overshoot=False), target_fidelity="ce12").evaluations
    assert (over["start"] < 5_000).all() and over["end"].iloc[-1] > 5_000  # NB201 rule: the last one overshoots
    assert (cut["end"] <= 5_000).all()
    assert len(cut) == len(over) - 1
    assert cut.equals(over.iloc[:-1])


def test_evaluation_budget_and_both_limits(c10):
    run = simulate(c10, "rea", 0, Budget(evaluations=17), target_fidelity="ce12")
    assert len(run.evaluations) == 17
    both = simulate(c10, "rea", 0, Budget(seconds=1e9, evaluations=17), target_fidelity="ce12")
    assert both.evaluations.equals(run.evaluations)
    with pytest.raises(UserError):
        simulate(c10, "rea", 0, Budget())
    with pytest.raises(UserError):
        simulate(c10, "rea", 0, Budget(evaluations=0))


def test_async_workers_are_event_driven(c10):
    run = simulate(c10, "random", 5, Budget(6_000), n_workers=4, target_fidelity="ce12")
    ev = run.evaluations
    assert set(ev["worker"]) == {0, 1, 2, 3}
    assert (np.diff(ev["end"].to_numpy()) >= 0).all()  # reported in order of completion
    for _, per_worker in ev.sort_values("start").groupby("worker"):
        starts, ends = per_worker["start"].to_numpy(), per_worker["end"].to_numpy()
        np.testing.assert_array_equal(starts[1:], ends[:-1])  # a worker restarts when it reports
    # four workers make about four times the evaluations of one in the same simulated time
    one = simulate(c10, "random", 5, Budget(6_000), target_fidelity="ce12")
    assert 3 * len(one.evaluations) < len(ev) < 5 * len(one.evaluations)


def test_incumbent_is_running_best_search_score(c10):
    run = simulate(c10, "reinforce", 2, Budget(12_000), target_fidelity="ce12")
    ev, inc = run.evaluations, run.incumbents
    best = np.maximum.accumulate(ev["score"].to_numpy())
    assert inc["score"].iloc[-1] == best[-1]
    assert list(inc["score"]) == sorted(set(best))
    for row in inc.itertuples():
        assert row.score == best[row.n_evals - 1] and row.time == ev["end"].iloc[row.n_evals - 1]
        assert row.report == pytest.approx(c10.report(row.index))
    assert run.final_index == inc["index"].iloc[-1]
    assert run.final_report == pytest.approx(c10.report(run.final_index))
    assert run.report_metric == "test_acc_200"


class _Scripted(Optimizer):
    """Proposes a fixed list of (index, fidelity), then nothing."""

    PLAN = [(100, "ce12"), (200, "ce12"), (300, "200"), (400, "ce12"), (500, "200")]

    def __init__(self, space, fidelities, rng):
        super().__init__(space, fidelities, rng)
        self.plan = list(self.PLAN)

    def ask(self):
        return self.plan.pop(0) if self.plan else None

    def tell(self, trial, score, cost):
        pass


def test_incumbent_prefers_the_highest_fidelity_observed(c10, monkeypatch):
    monkeypatch.setitem(optimizer_module._REGISTRY, "scripted", _Scripted)
    run = simulate(c10, "scripted", 0, Budget(1e9), target_fidelity="200")
    assert len(run.evaluations) == 5  # the run ends when the plan is used up
    low = max([100, 200], key=lambda i: c10.score(i, "ce12"))
    high = max([300, 500], key=lambda i: c10.score(i, "200"))
    inc = run.incumbents
    assert inc["index"].iloc[0] == 100 and inc["fidelity"].iloc[0] == "ce12"
    assert low in list(inc["index"]) and 400 not in list(inc["index"])
    assert inc["index"].iloc[-1] == high and run.final_index == high
    assert (inc[inc["n_evals"] >= 3]["fidelity"] == "200").all()


def test_search_fidelities_rule(c10):
    fids = search_fidelities(c10, "200")
    assert fids["200"].level == 1 and all(f.level == 0 for n, f in fids.items() if n != "200")
    assert set(fids) == {"ce12", "200"}  # not the ce12@E curve, measured on test images
    under_ce12 = search_fidelities(c10, "ce12")
    assert set(under_ce12) == {"ce12"}
    assert under_ce12["ce12"].level == 1
    with pytest.raises(UserError):
        search_fidelities(c10, "ce99")


def test_nan_scores_never_become_incumbent(c10):
    scores = np.array([c10.score(i, "ce12") for i in range(15_625)])
    scores[::2] = np.nan  # every even index "failed"
    failures = FidelityTable(Fidelity("ce12", 12, 0, "with failures"), scores, np.full(15_625, 100.0))
    bench = c10.with_fidelities([failures], "nan-test")
    for name in ("random", "rea", "reinforce", "local-search"):
        run = simulate(bench, name, 0, Budget(evaluations=60), target_fidelity="ce12")
        assert run.evaluations["score"].isna().any()
        assert (run.incumbents["index"] % 2 == 1).all()
        assert run.final_index % 2 == 1


def test_all_failed_run_has_no_incumbent(c10):
    all_fail = FidelityTable(Fidelity("ce12", 12, 0, "all fail"), np.full(15_625, np.nan), np.full(15_625, 1.0))
    bench = c10.with_fidelities([all_fail], "all-fail")
    run = simulate(bench, "rea", 0, Budget(evaluations=20), target_fidelity="ce12")
    assert len(run.evaluations) == 20 and run.final_index == -1 and math.isnan(run.final_report)
    assert run.incumbents.empty


def test_exhausted_optimizer_ends_the_run(c10):
    tiny = c10.restricted("tiny", [10, 11, 12, 13])
    run = simulate(tiny, "local-search", 0, Budget(1e9), n_workers=4, target_fidelity="ce12")
    assert sorted(run.evaluations["index"]) == [10, 11, 12, 13]  # each once, then nothing left
    assert run.final_index == max([10, 11, 12, 13], key=lambda i: tiny.score(i, "ce12"))


def test_seed_mode_sample_is_seeded_and_differs_from_mean(data_dir):
    sample = load_benchmark("cifar10", str(data_dir), seed_mode="sample")
    mean = load_benchmark("cifar10", str(data_dir))
    a = simulate(sample, "random", 4, Budget(evaluations=30))
    b = simulate(sample, "random", 4, Budget(evaluations=30))
    m = simulate(mean, "random", 4, Budget(evaluations=30))
    assert a.evaluations.equals(b.evaluations)
    assert list(a.evaluations["index"]) == list(m.evaluations["index"])  # the optimizer's stream is unchanged
    assert not np.allclose(a.evaluations["score"], m.evaluations["score"])


def test_overhead_measured_not_charged_unless_asked(c10):
    free = simulate(c10, "rea", 0, Budget(evaluations=30), target_fidelity="ce12")
    charged = simulate(c10, "rea", 0, Budget(evaluations=30), target_fidelity="ce12", charge_overhead=True)
    assert free.overhead_s > 0 and charged.overhead_s > 0
    assert list(free.evaluations["index"]) == list(charged.evaluations["index"])
    ev = charged.evaluations
    assert (ev["start"].to_numpy()[1:] > ev["end"].to_numpy()[:-1]).all()
    assert ev["end"].iloc[-1] > free.evaluations["end"].iloc[-1]


def test_bad_arguments(c10):
    for kwargs in ({"n_workers": 0}, {"n_workers": 1.5}):
        with pytest.raises(UserError):
            simulate(c10, "rea", 0, Budget(100), **kwargs)
    with pytest.raises(UserError):
        simulate(c10, "rea", -1, Budget(100))
    with pytest.raises(UserError, match="unknown optimizer"):
        simulate(c10, "no-such-optimizer", 0, Budget(100))
    with pytest.raises(UserError, match="no option"):
        simulate(c10, "rea", 0, Budget(100), optimizer_options={"nonsense": 1})


def test_presets():
    p = get_preset("nb201-iclr20")
    assert p.target_fidelity == "ce12" and set(p.budgets.values()) == {12_000.0}
    assert get_preset("nats-tpami21").budgets == {"cifar10": 20_000.0, "cifar100": 40_000.0,
                                                  "imagenet16-120": 120_000.0}
    assert PRESETS["hf200"].target_fidelity == "200"
    assert PRESETS["nats-hf200"].budgets == PRESETS["nats-tpami21"].budgets
    assert PRESETS["nats-hf200"].target_fidelity == "200"
    with pytest.raises(UserError, match="unknown preset"):
        get_preset("nb301")


def test_run_command_is_reproducible_and_errors_are_one_line(data_dir):
    from click_cli import cli

    args = ["run", "--optimizer", "rea", "--dataset", "cifar10", "--preset", "nb201-iclr20", "--seed", "0",
            "--data", str(data_dir)]
    first = CliRunner().invoke(cli, args)
    second = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert "final test_acc_200:" in first.output and "timing" not in first.output
    timed = CliRunner().invoke(cli, args + ["--timing"])
    assert "timing (wall clock" in timed.output
    other = CliRunner().invoke(cli, args[:-4] + ["--seed", "1", "--sim-workers", "4", "--data", str(data_dir)])
    assert other.exit_code == 0 and other.output != first.output and "4 worker(s)" in other.output
    assert "rea@ce12 on cifar10" in first.output and "target-only search" in first.output
    processes = CliRunner().invoke(cli, args + ["--workers", "4"])
    assert processes.exit_code != 0 and "--workers means parallel processes" in str(processes.exception)


def test_run_command_bad_input_exits_2(data_dir, capsys):
    from click_cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--optimizer", "nope", "--dataset", "cifar10", "--data", str(data_dir)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown optimizer 'nope'") and err.count("\n") == 1


def _both_loops(monkeypatch, *args, **kwargs):
    """The same search through the one-worker fast path and through the event loop (the heap)."""
    from mfkdbench.search import simulator

    lean = simulate(*args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(simulator._Loop, "run_sequential", simulator._Loop.run_events)
        events = simulate(*args, **kwargs)
    return lean, events


@pytest.mark.parametrize("name, target, budget", [
    ("random", "ce12", Budget(12_000)), ("rea", "ce12", Budget(5_000, overshoot=False)),
    ("rea", "200", Budget(60_000, 25)), ("bohb-nb201", "200", Budget(40_000)),
    ("hyperband", "200", Budget(40_000, overshoot=False)), ("scripted", "200", Budget(1e9)),
])
def test_one_worker_fast_path_equals_the_event_loop(c10, monkeypatch, name, target, budget):
    monkeypatch.setitem(optimizer_module._REGISTRY, "scripted", _Scripted)
    lean, events = _both_loops(monkeypatch, c10, name, 2, budget, target_fidelity=target)
    assert lean.evaluations.equals(events.evaluations) and lean.incumbents.equals(events.incumbents)
    assert (lean.final_index, lean.config) == (events.final_index, events.config)
    assert len(lean.evaluations) > 3


def test_one_worker_fast_path_equals_the_event_loop_on_failures_and_exhaustion(c10, monkeypatch):
    scores = np.array([c10.score(i, "ce12") for i in range(15_625)])
    scores[::3] = np.nan
    bench = c10.with_fidelities([FidelityTable(Fidelity("ce12", 12, 0, "with failures"), scores,
                                               np.full(15_625, 100.0))], "nan-test").restricted("tiny", range(40))
    lean, events = _both_loops(monkeypatch, bench, "local-search", 0, Budget(1e9), target_fidelity="ce12")
    assert lean.evaluations.equals(events.evaluations) and lean.incumbents.equals(events.incumbents)
    assert lean.config["ended"] == events.config["ended"] == "optimizer exhausted"
    assert lean.evaluations["score"].isna().any() and lean.final_index % 3 != 0


def test_a_bad_proposal_gets_the_same_error_on_the_fast_path(c10, monkeypatch):
    class Bad(Optimizer):
        def __init__(self, *args, proposal=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.proposal = proposal

        def ask(self):
            return self.proposal

        def tell(self, trial, score, cost):
            pass

    monkeypatch.setitem(optimizer_module._REGISTRY, "bad", Bad)
    for proposal, words in ((7, "not (nb201_index, fidelity)"), ((15_625, "200"), "outside the search space"),
                            ((-1, "200"), "outside the search space"), ((3, "ce99"), "on offer: ce12, 200"),
                            (("x", "200"), "not (nb201_index, fidelity)")):
        with pytest.raises(UserError, match=re.escape(words)):
            simulate(c10, "bad", 0, Budget(evaluations=2), optimizer_options={"proposal": proposal})


def test_charged_overhead_counts_ask_and_tell(c10, monkeypatch):
    import time

    class SlowTell(_Scripted):
        def tell(self, trial, score, cost):
            time.sleep(0.003)

    monkeypatch.setitem(optimizer_module._REGISTRY, "slow-tell", SlowTell)
    ev = simulate(c10, "slow-tell", 0, Budget(1e9), charge_overhead=True).evaluations
    assert (ev["start"].to_numpy()[1:] >= ev["end"].to_numpy()[:-1] + 0.003).all()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_tie_keeps_the_earlier_incumbent(c10, monkeypatch, workers):
    scores = np.array([c10.score(i, "200") for i in range(15_625)])
    values, first, counts = np.unique(scores, return_index=True, return_counts=True)
    a = int(first[np.flatnonzero(counts > 1)[0]])
    b = int(np.flatnonzero(scores == scores[a])[1])
    for plan in ([(a, "200"), (b, "200")], [(b, "200"), (a, "200")]):
        monkeypatch.setattr(_Scripted, "PLAN", plan)
        monkeypatch.setitem(optimizer_module._REGISTRY, "scripted", _Scripted)
        run = simulate(c10, "scripted", 0, Budget(1e9), n_workers=workers, target_fidelity="200")
        told_first = int(run.evaluations["index"].iloc[0])  # with 2 workers: the one that ended first
        assert told_first == plan[0][0] or workers == 2
        assert list(run.incumbents["index"]) == [told_first] and run.final_index == told_first
