"""The library baselines (Optuna, SMAC3, syne-tune): options, missing libraries, seeds, no files, rungs."""
import sys

import numpy as np
import pytest

from mfkdbench import load_benchmark
from mfkdbench.errors import MissingLibrary
from mfkdbench.search.optimizer import make_optimizer
from mfkdbench.search.simulator import Budget, search_fidelities, simulate

#: optimizer -> the module its library is imported by, and the extra that installs it
LIBRARIES = {"tpe": ("optuna", "optuna"), "smac-hb": ("smac", "smac"), "smac-mf": ("smac", "smac"),
             "asha": ("syne_tune", "syne-tune"), "st-bohb": ("syne_tune", "syne-tune"),
             "st-rea": ("syne_tune", "syne-tune")}


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
    plan = plan_comparison(make_protocol("cifar100", str(data_dir)), str(data_dir), 1)
    assert plan.skipped["smac-hb"] == 'smac-hb needs smac: pip install -e ".[smac]"'
    assert "smac-mf" in plan.skipped and not {"smac-hb", "smac-mf"} & {c.optimizer for c in plan.cells}


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
