"""The simulated clock charges every evaluation its benchmark cost, at every fidelity, for every family of
search, on both paths of the simulator (the one-worker fast path and the event loop, with one or more workers)."""
import numpy as np
import pytest

from mfkdbench.search.simulator import Budget, simulate

#: (search, family): single-fidelity at the target, low-fidelity-only, multi-fidelity
SEARCHES = [("random", "target-only"), ("rea", "target-only"), ("rea@ce12", "low-fidelity-only"),
            ("bohb-nb201@ce12", "low-fidelity-only"), ("gp-hf", "target-only"), ("hyperband", "multi-fidelity"),
            ("bohb", "multi-fidelity"), ("mf-ce", "multi-fidelity"), ("mfkd", "multi-fidelity")]
BUDGET_S = 60_000


@pytest.fixture(scope="module")
def kd240(data_dir):
    from mfkdbench import load_benchmark

    return load_benchmark("cifar100-kd240", str(data_dir))  # offers 200, ce12 and nst12


def _run(bench, spec, workers, path, monkeypatch, overshoot=True):
    from mfkdbench.search import simulator

    with monkeypatch.context() as m:
        if path == "event loop":
            m.setattr(simulator._Loop, "run_sequential", simulator._Loop.run_events)
        return simulate(bench, spec, 0, Budget(BUDGET_S, 60, overshoot=overshoot), n_workers=workers,
                        target_fidelity="200")


@pytest.mark.parametrize("workers,path", [(1, "fast path"), (1, "event loop"), (3, "event loop")])
@pytest.mark.parametrize("spec,family", SEARCHES)
def test_charged_time_is_the_sum_of_costs(kd240, monkeypatch, spec, family, workers, path):
    run = _run(kd240, spec, workers, path, monkeypatch)
    ev = run.evaluations
    assert run.config["family"] == family and len(ev) >= 10
    fidelities = set(ev["fidelity"])
    if family == "multi-fidelity":
        assert len(fidelities) >= 2 and fidelities < {"200", "ce12", "nst12"}  # low fidelities are charged too
    else:
        assert fidelities == {run.config["search_fidelity"]}
    # each evaluation costs what the benchmark says for its cell at its fidelity, and takes that long
    expected = np.array([kd240.cost(int(i), f) for i, f in zip(ev["index"], ev["fidelity"])])
    np.testing.assert_allclose(ev["cost"], expected, rtol=1e-12)
    np.testing.assert_allclose(ev["end"] - ev["start"], expected, rtol=1e-9)
    assert (expected > 0).all()
    busy = 0.0
    for _, trials in ev.sort_values(["worker", "start"]).groupby("worker"):
        starts, ends = trials["start"].to_numpy(), trials["end"].to_numpy()
        assert (starts[1:] >= ends[:-1] - 1e-9).all()  # a worker runs one evaluation at a time
        busy += (ends - starts).sum()
    assert busy == pytest.approx(expected.sum(), rel=1e-9)  # the clock charged every cost once
    assert (ev["start"] < BUDGET_S).all()  # nothing starts after the budget
    assert set(run.incumbents["time"]) <= set(ev["end"])  # an incumbent appears when its evaluation ends
    if workers == 1:  # one after another from 0: the clock is the running sum of the costs
        np.testing.assert_allclose(ev["end"], np.cumsum(expected), rtol=1e-9)
        assert ev["start"].iloc[0] == 0.0


@pytest.mark.parametrize("workers,path", [(1, "fast path"), (3, "event loop")])
@pytest.mark.parametrize("spec", ["hyperband", "mfkd", "rea@ce12"])
def test_cut_rule_keeps_every_evaluation_within_the_budget(kd240, monkeypatch, spec, workers, path):
    kept = _run(kd240, spec, workers, path, monkeypatch, overshoot=False).evaluations
    over = _run(kd240, spec, workers, path, monkeypatch).evaluations
    assert (kept["end"] <= BUDGET_S).all() and len(kept) >= 10
    if (over["end"] > BUDGET_S).any():  # what the cut dropped is exactly what ended late
        assert len(kept) < len(over)
