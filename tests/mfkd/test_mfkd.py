"""MF-KD optimizers, low-fidelity sources, the kd240 benchmark and the correlation command."""
import numpy as np
import pandas as pd
import pytest

from mfkdbench import load_benchmark
from mfkdbench.errors import UserError


@pytest.fixture(scope="module")
def kd240():
    return load_benchmark("cifar100-kd240")


def test_kd240_offers_nst12_with_normalized_costs(kd240, data_dir):
    from mfkdbench.lowfi.sources import AUTHORS_TEACHER_TIME_S, gpu_factor

    teachers = pd.read_csv(data_dir / "nb201-kd" / "nb201_kd_teachers_curves.csv.gz")
    assert teachers[teachers.teacher_file == "resnet.pth"].train_time_s.sum() == pytest.approx(AUTHORS_TEACHER_TIME_S)
    assert list(kd240.space.candidates) == list(range(240))
    assert {"200", "ce12", "nst12"} <= set(kd240.fidelities)
    t = kd240.tables
    factor = gpu_factor(t)
    assert kd240.cost(0, "nst12") == pytest.approx(factor * t.get("cifar100", "nst12_time")[0])
    # a log-only run: test-split proxy score and an imputed, positive cost
    assert np.isnan(kd240.score(224, "nst12"))  # log-only run: x-test only, which no search may see
    assert 0 < kd240.cost(224, "nst12") < kd240.cost(224, "200")
    assert "nst12" not in load_benchmark("cifar100").fidelities  # only where every cell has a value


def test_mfkd_needs_its_low_fidelity():
    from mfkdbench.search.simulator import Budget, simulate

    with pytest.raises(UserError, match="nst12"):
        simulate(load_benchmark("cifar10"), "mfkd", 0, Budget(evaluations=5))


@pytest.mark.parametrize("name", ["mfkd", "mf-ce", "gp-hf"])
def test_search_is_deterministic_and_follows_the_design(kd240, name):
    from mfkdbench.search.simulator import Budget, simulate

    runs = [simulate(kd240, name, 7, Budget(evaluations=25)) for _ in range(2)]
    ev = runs[0].evaluations
    pd.testing.assert_frame_equal(ev, runs[1].evaluations)
    fids = list(ev.fidelity)
    if name == "gp-hf":
        assert set(fids) == {"200"} and ev["index"].is_unique
    else:
        low = "nst12" if name == "mfkd" else "ce12"
        assert fids[:13] == ["200"] * 3 + [low] * 10
        assert fids[13:] == [low, "200"] * 6  # ratio 2 after the initial design
        for fid in ("200", low):
            assert ev[ev.fidelity == fid]["index"].is_unique


@pytest.mark.parametrize("encoding", ["onehot", "path"])
def test_ucb_step_picks_the_exact_argmax_over_the_pool(kd240, encoding):
    """The pruned candidate search equals scoring every cell with the float64 posterior
    (one-hot: means from the grid factorization; path: from cached distances in float32)."""
    from mfkdbench.mfkd.searches import MFKD
    from mfkdbench.search.optimizer import Trial
    from mfkdbench.search.simulator import search_fidelities

    opt = MFKD(kd240.space, search_fidelities(kd240, "200"), np.random.default_rng(1), encoding=encoding)
    assert (opt.pool._grid is None) == (encoding == "path")
    for k in range(30):
        index, fid = opt.ask()
        opt.tell(Trial(k, index, fid), kd240.score(index, fid), kd240.cost(index, fid))
    assert opt._fit()
    for level in (0, 1):
        mean, var = opt.pool.posterior(opt.model, level)
        tol = 1e-9 if encoding == "onehot" else 1e-5
        np.testing.assert_allclose(opt.pool.means(opt.model, level, opt._observed), mean, rtol=tol, atol=tol)
        score = mean + np.sqrt(var)
        score[~opt.obs[level].untried] = -np.inf
        pos, value = opt.pool.best(opt.model, level, opt.obs[level].untried, opt._observed)
        assert value == pytest.approx(score.max(), rel=1e-4)
        assert score[pos] >= score.max() - 1e-4


def test_options_ei_cost_aware_and_path_encoding(kd240):
    from mfkdbench.search.simulator import Budget, simulate

    run = simulate(kd240, "mfkd", 0, Budget(evaluations=30), optimizer_options={
        "acquisition": "ei", "allocation": "cost", "encoding": "path"})
    assert set(run.evaluations.fidelity) <= {"200", "nst12"}
    assert (run.evaluations.fidelity == "200").any()
    with pytest.raises(UserError, match="encoding"):
        simulate(kd240, "mfkd", 0, Budget(evaluations=3), optimizer_options={"encoding": "nope"})


def test_low_fidelity_sources_by_name(tables, tmp_path):
    from mfkdbench.lowfi.catalog import low_fidelity

    ce = low_fidelity("ce12", tables, "cifar100")
    assert ce.fidelity.name == "ce12" and np.isfinite(ce.scores).all()
    kd = low_fidelity("kd", tables, "cifar100")
    assert len(kd.known) == 228 and np.flatnonzero(np.isfinite(kd.costs)).tolist() == list(range(240))
    with pytest.raises(UserError, match="knowledge-distillation"):
        low_fidelity("kd", tables, "cifar10")
    with pytest.raises(UserError, match="unknown low-fidelity source"):
        low_fidelity("bogus", tables, "cifar100")


def test_live_source_round_trips_through_a_store(tables, tmp_path):
    """A job's records land in a store and come back as a low fidelity; stored cells are not trained again.

    The "training" here reads NB201's recorded 12-epoch runs (real data, no trainer needed);
    tests/test_live_lowfi.py runs the real trainer.
    """
    from mfkdbench.lowfi.catalog import low_fidelity

    val, test, t200 = (tables.get("cifar100", m) for m in ("val_acc_12", "test_acc_12", "time_200"))

    class RecordedRuns:
        trained: list = []

        def key_fields(self, i):
            return {"arch_index": i, "dataset": "cifar100", "loss": "ce", "epochs": 12, "fraction": 1.0,
                    "teacher_hash": None, "seed": 0, "channels": 16, "cells": 5}

        def run(self, i, arch):
            self.trained.append(i)
            return {**self.key_fields(i), "arch": str(arch), "status": "ok", "test_acc": float(test[i]),
                    "curve": {"val_acc": [float(val[i])] * 12, "train_time_s": [float(t200[i]) * 12 / 200 / 24] * 12}}

    path, job = tmp_path / "lowfi.jsonl", RecordedRuns()
    low = low_fidelity("live", tables, "cifar100", job=job, path=path, indices=[5, 9, 11])
    assert low.known.tolist() == [5, 9, 11] and low.fidelity.name == "ce12"
    np.testing.assert_allclose(low.scores[[5, 9, 11]], val[[5, 9, 11]])
    # the store's seconds are half NB201's: the calibration doubles them back
    np.testing.assert_allclose(low.costs[[5, 9, 11]], t200[[5, 9, 11]] * 12 / 200)
    low = low_fidelity("live", tables, "cifar100", job=job, path=path, indices=[9, 11, 20])
    assert job.trained == [5, 9, 11, 20] and low.known.tolist() == [5, 9, 11, 20]


def test_correlation_reports_nst_above_ce(tables):
    from mfkdbench.lowfi.correlation import correlation_table

    table = correlation_table("cifar100", "kd240", bootstrap=50, tables=tables).set_index("low fidelity")
    nst, ce = table.loc["nst12 (CE+25 NST, 12 ep)"], table.loc["ce12 (CE, 12 ep)"]
    assert nst.cells == 228 and ce.cells == 240
    assert 0.9 < nst.spearman < 0.95 and 0.83 < ce.spearman < 0.89
    assert nst.kendall > ce.kendall
    assert table.loc["nst12@1"].spearman < nst.spearman


def test_correlation_cli_errors(data_dir):
    from click.testing import CliRunner

    from click_cli import cli

    result = CliRunner().invoke(cli, ["correlation", "--dataset", "cifar100", "--subset", "nope"])
    assert result.exit_code != 0 and "unknown subset" in str(result.exception)
