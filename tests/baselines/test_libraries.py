"""The library baselines (Optuna, SMAC3, syne-tune, DEHB): options, missing libraries, seeds, no files, rungs."""
import sys

import numpy as np
import pytest

from mfkdbench import load_benchmark
from mfkdbench.errors import MissingLibrary, UserError
from mfkdbench.search.optimizer import Trial, make_optimizer
from mfkdbench.search.simulator import Budget, search_fidelities, simulate

#: optimizer -> the module its library is imported by, and the extra that installs it
LIBRARIES = {"tpe": ("optuna", "optuna"), "smac-hb": ("smac", "smac"), "smac-mf": ("smac", "smac"),
             "asha": ("syne_tune", "syne-tune"), "st-bohb": ("syne_tune", "syne-tune"),
             "st-rea": ("syne_tune", "syne-tune"), "dehb": ("dehb", "dehb")}


@pytest.fixture(scope="module")
def c100(data_dir):
    return load_benchmark("cifar100", str(data_dir))


def needs(name):
    pytest.importorskip(LIBRARIES[name][0])


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_without_its_library_an_optimizer_names_the_extra(c100, name, monkeypatch):
    module, extra = LIBRARIES[name]
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(MissingLibrary, match=rf'{name} needs {module}: pip install -e "\.\[{extra}\]"'):
        make_optimizer(name, c100.space, search_fidelities(c100, "200"), np.random.default_rng(0))


def test_the_default_grid_skips_a_missing_library_with_the_install_line(data_dir, monkeypatch):
    from mfkdbench.experiments.grid import make_protocol, plan_comparison

    monkeypatch.setitem(sys.modules, "smac", None)
    monkeypatch.setitem(sys.modules, "dehb", None)
    plan = plan_comparison(make_protocol("cifar100", str(data_dir)), str(data_dir), 1)
    assert plan.skipped["smac-hb"] == 'smac-hb needs smac: pip install -e ".[smac]"'
    assert plan.skipped["dehb"] == 'dehb needs dehb: pip install -e ".[dehb]" && pip install --no-deps dehb==0.1.2'
    assert "smac-mf" in plan.skipped and not {"smac-hb", "smac-mf", "dehb"} & {c.optimizer for c in plan.cells}


def test_syne_tune_runs_on_its_own_global_numpy_state(c100):
    needs("st-rea")
    np.random.seed(1)
    a = simulate(c100, "st-rea", 5, Budget(evaluations=30))
    after = np.random.get_state()[1].copy()
    np.random.seed(2)  # another global state before the run: the same search
    b = simulate(c100, "st-rea", 5, Budget(evaluations=30))
    np.random.seed(1)
    assert np.array_equal(np.random.get_state()[1], after)  # the run left the global state alone
    assert a.evaluations.equals(b.evaluations)


def test_smac_writes_no_files(c100, tmp_path, monkeypatch):
    needs("smac-hb")
    monkeypatch.chdir(tmp_path)
    simulate(c100, "smac-hb", 0, Budget(evaluations=10))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["asha", "st-bohb"])
def test_asha_continues_trials_up_the_rungs(c100, name):
    """ASHA stops or continues a trial: every 200-epoch evaluation is a cell first run at ce12, and with eta 3
    about a third of ASHA's random cells go on (the first result of a rung always does; BOHB's are better)."""
    needs(name)
    evals = simulate(c100, name, 0, Budget(evaluations=120)).evaluations
    low = evals[evals["fidelity"] == "ce12"]
    for _, row in evals[evals["fidelity"] == "200"].iterrows():
        assert (low["index"] == row["index"]).any() and low["trial_id"][low["index"] == row["index"]].min() < row["trial_id"]
    assert 0.2 < (evals["fidelity"] == "200").sum() / len(low) < (0.5 if name == "asha" else 0.75)


def test_smac_hyperband_brackets_on_the_rungs(c100):
    """Two rungs, eta 3: SMAC's brackets start 3 configurations at ce12 (one goes on) and 2 at 200."""
    needs("smac-hb")
    evals = simulate(c100, "smac-hb", 0, Budget(evaluations=60)).evaluations
    assert set(evals["fidelity"]) == {"ce12", "200"}
    assert abs((evals["fidelity"] == "ce12").sum() - 30) <= 3


def test_without_dehb_the_line_installs_dehb_without_its_numpy_pin(c100, monkeypatch):
    """DEHB itself is not in its extra (DEHB 0.1.2 declares numpy<2): the message gives both install steps."""
    monkeypatch.setitem(sys.modules, "dehb", None)
    with pytest.raises(MissingLibrary) as err:
        make_optimizer("dehb", c100.space, search_fidelities(c100, "200"), np.random.default_rng(0))
    assert str(err.value) == 'dehb needs dehb: pip install -e ".[dehb]" && pip install --no-deps dehb==0.1.2'


def test_dehb_same_seed_same_search_on_its_own_generators(c100):
    """Seeded from the run's generator: the same search bit for bit whatever NumPy's global state, which it
    leaves alone; another seed, another search."""
    pytest.importorskip("dehb")
    np.random.seed(1)
    a = simulate(c100, "dehb", 5, Budget(evaluations=60))
    after = np.random.get_state()[1].copy()
    np.random.seed(2)
    b = simulate(c100, "dehb", 5, Budget(evaluations=60))
    np.random.seed(1)
    assert np.array_equal(np.random.get_state()[1], after)
    assert a.evaluations.equals(b.evaluations) and a.incumbents.equals(b.incumbents)
    assert not a.evaluations["index"].equals(simulate(c100, "dehb", 6, Budget(evaluations=60)).evaluations["index"])


def test_dehb_brackets_on_the_rungs(c100):
    """Two rungs, eta 3: DEHB's first bracket runs 3 random cells at ce12 and the best of them at 200, the
    second 2 cells at 200; every budget is a rung, about half the evaluations at each."""
    pytest.importorskip("dehb")
    evals = simulate(c100, "dehb", 0, Budget(evaluations=60)).evaluations
    assert set(evals["fidelity"]) == {"ce12", "200"}
    assert list(evals["fidelity"][:6]) == ["ce12"] * 3 + ["200"] * 3
    first = evals[:3]
    assert evals["index"][3] == first["index"][first["score"].idxmax()]
    assert abs((evals["fidelity"] == "ce12").sum() - 30) <= 3


@pytest.mark.parametrize("eta,rungs", [(10, None), (7, ["ce12", "nst12", "200"])])
def test_dehb_has_one_exact_fidelity_per_rung(data_dir, eta, rungs):
    """DEHB 0.1.2's own spacing drops the ce12 rung at eta 10 and gives 49.000000000000014 for 7**2 (the first
    bracket at eta 7: 49 cells at ce12, 7 at nst12, 1 at 200)."""
    pytest.importorskip("dehb")
    kd = load_benchmark("cifar100-kd240", str(data_dir))
    opt = make_optimizer("dehb", kd.space, search_fidelities(kd, "200"), np.random.default_rng(0), eta=eta, rungs=rungs)
    assert opt.dehb.fidelities.tolist() == [float(eta**k) for k in range(len(opt.ladder))]
    evals = simulate(kd, "dehb", 0, Budget(evaluations=60), optimizer_options=dict(eta=eta, rungs=rungs)).evaluations
    assert set(evals["fidelity"]) == set(opt.ladder)


def test_dehb_writes_nothing_and_leaves_loguru_alone(c100, tmp_path, monkeypatch):
    """DEHB 0.1.2 would create its output folder, replace the process's loguru sinks with its own and add a
    file sink (with a writer thread) per search: none of that here, over 20 searches in an empty folder."""
    pytest.importorskip("dehb")
    import threading

    from loguru import logger

    monkeypatch.chdir(tmp_path)
    mine = []
    sink = logger.add(mine.append, level="TRACE")
    try:
        handlers, threads = dict(logger._core.handlers), threading.active_count()
        for seed in range(20):
            simulate(c100, "dehb", seed, Budget(evaluations=12))
        assert dict(logger._core.handlers) == handlers and threading.active_count() == threads
        logger.info("still mine")
        assert [m.record["message"] for m in mine] == ["still mine"]
    finally:
        logger.remove(sink)
    assert list(tmp_path.iterdir()) == []


def test_dehb_tells_a_failed_evaluation_as_the_worst_fitness(c100):
    """A NaN is told as fitness 0 (accuracy 0 %), or the worst fitness told so far if worse; a bracket whose
    cells all failed still promotes one and the search goes on."""
    pytest.importorskip("dehb")
    opt = make_optimizer("dehb", c100.space, search_fidelities(c100, "200"), np.random.default_rng(0))
    asked = [opt.ask() for _ in range(3)]
    assert [f for _, f in asked] == ["ce12"] * 3
    for i, (index, fidelity) in enumerate(asked):
        opt.tell(Trial(i, index, fidelity), float("nan"), 100.0)
    assert [row[2] for row in opt.dehb.history] == [0.0, 0.0, 0.0]
    index, fidelity = opt.ask()
    assert fidelity == "200" and index in [i for i, _ in asked]
    opt.tell(Trial(3, index, fidelity), -5.0, 100.0)  # a negative score: fitness 5, worse than 0
    for trial_id in range(4, 6):
        index, fidelity = opt.ask()
        opt.tell(Trial(trial_id, index, fidelity), float("nan"), 100.0)
    assert [row[2] for row in opt.dehb.history][3:] == [5.0, 5.0, 5.0]
    assert len([opt.ask() for _ in range(20)]) == 20


@pytest.mark.parametrize("options,message", [
    (dict(eta=1), "option eta of dehb must be an integer >= 2 and <= 100, got 1"),
    (dict(mutation_factor=0.0), "option mutation_factor of dehb must be a number > 0 and <= 2, got 0.0"),
    (dict(crossover_prob=1.5), "option crossover_prob of dehb must be a number >= 0 and <= 1, got 1.5"),
    (dict(strategy="rand1"), "strategy must be one of rand1_bin, rand1_exp"),
    (dict(boundary_fix_type="wrap"), "boundary_fix_type must be one of random, clip"),
    (dict(min_clip=0), "option min_clip of dehb must be an integer >= 1, got 0"), (dict(min_clip=3, max_clip=2), r"min_clip \(3\) must not exceed"),
    (dict(rungs=["200"]), "needs a fidelity below the target"), (dict(max_age=3), "has no option"),
])
def test_dehb_refuses_bad_options(c100, options, message):
    pytest.importorskip("dehb")
    with pytest.raises(UserError, match=message):
        make_optimizer("dehb", c100.space, search_fidelities(c100, "200"), np.random.default_rng(0), **options)


def test_dehb_runs_in_a_compare_cell(tmp_path):
    """A whole comparison with dehb beside hyperband: stored, summarised, on its rungs."""
    pytest.importorskip("dehb")
    from mfkdbench.experiments.store import ResultStore
    from mfkdbench.report.pipeline import compare

    text = compare("cifar10", 2, ["dehb", "hyperband"], budget_s=60000, workers=1, out=tmp_path / "c10",
                   progress=False, reference="hyperband")
    assert "dehb" in text
    with ResultStore(tmp_path / "c10", create=False) as store:
        runs = [r for r in store.runs() if r.optimizer == "dehb"]
    assert len(runs) == 2 and all(set(r.evaluations["fidelity"]) <= {"ce12", "200"} for r in runs)
    assert all(np.isfinite(r.final_report) for r in runs)
