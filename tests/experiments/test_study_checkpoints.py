"""bench/checkpoints.py: the study scripts' incumbent at a checkpoint is the run at that budget."""
import importlib.util
from pathlib import Path

import pytest

from mfkdbench import load_benchmark
from mfkdbench.search.simulator import Budget, simulate

_SPEC = importlib.util.spec_from_file_location("study_checkpoints", Path(__file__).parents[2] / "bench" / "checkpoints.py")
checkpoints = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(checkpoints)


@pytest.mark.parametrize("spec", ["rea@ce12", "local-search@200", "mf-ce", "mf-ce-zc"])
def test_the_incumbent_of_evaluations_started_before_a_checkpoint_is_the_run_at_that_budget(spec):
    bench = load_benchmark("cifar100-kd240")
    long = simulate(bench, spec, 3, Budget(seconds=100_000))
    fidelity = long.config["search_fidelity"] or "200"
    for seconds in (9_000, 23_456, 40_000, 61_111, 100_000):
        short = simulate(bench, spec, 3, Budget(seconds=seconds))
        assert checkpoints.started_incumbent(long.evaluations, fidelity, seconds) == short.final_index, seconds
    assert checkpoints.started_incumbent(long.evaluations, fidelity, 0.0) == -1  # nothing starts before the clock
