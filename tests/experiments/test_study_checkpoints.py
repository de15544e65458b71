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


def _study(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "bench"))
    spec = importlib.util.spec_from_file_location("mfkd_zc_study", Path(__file__).parents[2] / "bench" / "mfkd_zc_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_study_verdict_is_the_holm_corrected_paired_wilcoxon_against_the_best_other_row(monkeypatch):
    import numpy as np
    import pandas as pd
    from scipy.stats import wilcoxon

    from mfkdbench.report.stats import holm

    study = _study(monkeypatch)
    times = study.checkpoints("cifar10")
    rng = np.random.default_rng(0)
    base = 93.5 + rng.normal(0, 0.2, 15)
    values = {"mf-ce": base - 0.3 + rng.normal(0, 0.05, 15), "mf-ce-zc": base + rng.normal(0, 0.3, 15),
              "local-search@ce12": base, "random@ce12": base - 1.0, "dehb": base - 0.1}
    df = pd.DataFrame([{"row": r, "seed": s, **{f"{k}@{t:g}": v[s] for t in times for k in ("final", "known")}}
                       for r, v in values.items() for s in range(15)])
    text = study.report(df, "cifar10")
    p = holm([wilcoxon(values[r], base).pvalue for r in ("mf-ce", "mf-ce-zc") for _ in times])
    assert "| dehb | 15 |" in text  # a library row is reported where its library is missing too
    line = next(x for x in text.splitlines() if x.startswith("| mf-ce | -"))
    assert line.count("vs local-search@ce12 (15 seeds)") == 3 and f"p = {p[0]:.2g}: **loses**" in line
    zc = next(x for x in text.splitlines() if x.startswith("| mf-ce-zc | ") and " vs " in x)
    assert f"p = {p[3]:.2g}: **ties**" in zc
    with pytest.raises(SystemExit, match="no known@ columns"):
        study.report(df.drop(columns=[c for c in df.columns if c.startswith("known@")]), "cifar10", "finished")
