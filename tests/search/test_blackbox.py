"""Benchmarks as objectives for outside frameworks, and NB201's six edges as one configuration."""
import re
from pathlib import Path

import numpy as np
import pytest

from mfkdbench import BenchmarkObjective, load_benchmark
from mfkdbench.errors import UserError
from mfkdbench.nb201.space import EDGE_NAMES, OPS

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def kd240(data_dir):
    return load_benchmark("cifar100-kd240", str(data_dir))


def test_configuration_round_trip_and_edge_names(space):
    assert EDGE_NAMES == ("edge_0_1", "edge_0_2", "edge_1_2", "edge_0_3", "edge_1_3", "edge_2_3")
    cell = space.index("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert space.config(cell) == {"edge_0_1": "nor_conv_3x3", "edge_0_2": "none", "edge_1_2": "skip_connect",
                                  "edge_0_3": "avg_pool_3x3", "edge_1_3": "nor_conv_1x1", "edge_2_3": "none"}
    assert all(space.from_config(space.config(i)) == i for i in range(0, 15625, 7))
    with pytest.raises(UserError, match="edge_2_3"):
        space.from_config({"edge_0_1": "none"})
    with pytest.raises(UserError, match="avg_pool_3x3"):
        space.from_config({name: "conv_5x5" for name in EDGE_NAMES})


def test_a_configuration_outside_a_restricted_space_is_the_nearest_candidate(space):
    tiny = space.restrict([10, 11, 12])
    ops = tiny.ops([11])[0]
    config = dict(zip(EDGE_NAMES, (OPS[o] for o in ops)))
    config["edge_2_3"] = OPS[(ops[-1] + 1) % len(OPS)]  # one edge off cell 11
    shared = (tiny.ops([10, 11, 12]) == [OPS.index(config[n]) for n in EDGE_NAMES]).sum(axis=1)
    assert tiny.from_config(config) == [10, 11, 12][int(np.argmax(shared))]
    assert shared.max() >= 5 and space.from_config(config) not in (10, 11, 12)


def test_configspace_names_the_six_edges():
    cs = pytest.importorskip("ConfigSpace")
    from mfkdbench.nb201.space import configuration_space

    space = configuration_space(seed=1)
    assert isinstance(space, cs.ConfigurationSpace) and sorted(space) == sorted(EDGE_NAMES)
    assert all(tuple(space[name].choices) == OPS for name in EDGE_NAMES)


def test_objective_scores_costs_and_clock(kd240):
    objective = BenchmarkObjective(kd240)
    assert list(objective.fidelities) == ["ce12", "nst12", "200"]  # never CIFAR-10's test-image curve
    cell = int(kd240.space.candidates[17])
    config = kd240.space.config(cell)
    first = objective(config, "nst12")
    assert first == {"score": kd240.score(cell, "nst12"), "cost": kd240.cost(cell, "nst12"),
                     "virtual_time": kd240.cost(cell, "nst12"), "index": cell}
    second = objective(config)  # the target
    assert second["score"] == kd240.score(cell, "200") and second["virtual_time"] == pytest.approx(
        kd240.cost(cell, "nst12") + kd240.cost(cell, "200"))
    assert objective.n_evaluations == 2 and objective.report(config) == kd240.report(cell)
    assert objective.report(config) != second["score"]  # the report is test accuracy, not the search score
    with pytest.raises(UserError, match="not on offer"):
        objective(config, "ce12@200")


def test_syne_tune_blackbox(kd240):
    pytest.importorskip("syne_tune.blackbox_repository")
    from mfkdbench import syne_tune_blackbox

    objective = BenchmarkObjective(kd240)
    blackbox = syne_tune_blackbox(objective)
    cell = int(kd240.space.candidates[3])
    out = blackbox.objective_function(kd240.space.config(cell), {"fidelity": "ce12"})
    assert out == {"metric_score": kd240.score(cell, "ce12"), "metric_cost": kd240.cost(cell, "ce12")}
    assert sorted(blackbox.configuration_space) == sorted(EDGE_NAMES) and objective.n_evaluations == 1


def test_the_readme_example_runs_an_outside_optimizer_on_kd240(capsys):
    pytest.importorskip("optuna")
    code = re.search(r"```python\n(import optuna\n.*?)```", README.read_text(), re.S).group(1)
    printed = re.search(r"prints `([^`]+)`", README.read_text().split(code)[1]).group(1)
    exec(compile(code, "README example", "exec"), {})
    assert capsys.readouterr().out.strip() == printed
