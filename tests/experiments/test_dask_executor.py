"""`compare --executor dask` on a local Dask cluster started here gives the local executor's results."""
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")


def runs_of(folder):
    from mfkdbench.experiments.store import ResultStore

    with ResultStore(folder, create=False) as store:
        return store.runs()


def test_dask_cluster_matches_local_processes(tmp_path):
    from mfkdbench.report.pipeline import compare

    grid = dict(dataset="cifar10", seeds=3, optimizers=["random", "rea"], budget_s=100000.0, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        text = compare(**grid, executor="dask", scheduler=cluster.scheduler_address, out=tmp_path / "dask")
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
    assert "Friedman test" in text
    compare(**grid, executor="local", workers=2, out=tmp_path / "local")
    on_dask, local = runs_of(tmp_path / "dask"), runs_of(tmp_path / "local")
    assert len(on_dask) == 6 and [(r.optimizer, r.seed) for r in on_dask] == [(r.optimizer, r.seed) for r in local]
    for a, b in zip(on_dask, local):
        pd.testing.assert_frame_equal(a.evaluations, b.evaluations)
        assert (a.final_index, a.final_report) == (b.final_index, b.final_report)
    summary = pd.read_csv(tmp_path / "dask" / "summary.csv")
    assert summary["mean"].tolist() == pd.read_csv(tmp_path / "local" / "summary.csv")["mean"].tolist()


def test_unreachable_scheduler_is_one_user_error():
    from mfkdbench.errors import UserError
    from mfkdbench.experiments.executors import DaskExecutor

    with pytest.raises(UserError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        list(DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1).map_unordered(abs, [1]))
