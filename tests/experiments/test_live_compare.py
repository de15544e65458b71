"""End to end: ``compare --lowfi live`` over the full CIFAR-100 space, training NST runs on the offline digits data
with a tiny network, priced with CIFAR-100 times. Every low-fidelity cell any search asks for is trained once,
the grid's results do not depend on the workers or executor, and a SIGKILL mid-training loses nothing."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from mfkdbench.lowfi.store import LowFiStore, run_key  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
#: two seeds of mfkd and a baseline; 14,000 s lets mfkd reach its 10-cell low-fidelity initial design
GRID = ["compare", "--dataset", "cifar100", "--optimizers", "mfkd,random", "--seeds", "2", "--budget", "14000", "--quiet"]
TRAINING = ["--lowfi", "live", "--train-dataset", "digits", "--epochs", "1", "--fraction", "0.1", "--channels", "4",
            "--cells", "1", "--batch-size", "128", "--teacher-epochs", "1"]
DATA = os.environ["MFKDBENCH_DATA"]  # what the command line's --data defaults to


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def setting(store):
    from mfkdbench.lowfi.catalog import live_setting

    return live_setting("cifar100", DATA, store, "digits", epochs=1, fraction=0.1, channels=4, cells=1,
                        batch_size=128, teacher_epochs=1)


def grid(store, out, executor, optimizers=("mfkd", "random"), seeds=2):
    """The grid of :data:`GRID` through the library (no rendering), on ``executor``; its runs."""
    from mfkdbench.experiments.grid import make_protocol, plan_comparison, run_comparison
    from mfkdbench.experiments.store import ResultStore

    protocol = make_protocol("cifar100", DATA, budget_s=14000.0, live=setting(store))
    with ResultStore(out) as results:
        run_comparison(plan_comparison(protocol, DATA, seeds, list(optimizers)), results, executor, progress=False)
    return runs_of(out)


def runs_of(folder):
    from mfkdbench.experiments.store import ResultStore

    with ResultStore(folder, create=False) as store:
        return store.runs()


def asked(runs) -> set[int]:
    """The cells any search of ``runs`` evaluated at the live low fidelity."""
    return {int(i) for r in runs for i in r.evaluations.loc[r.evaluations["fidelity"] == "nst12", "index"]}


def resolver(store):
    """This process's live resolver of ``store`` (the grid caches one benchmark per process)."""
    from mfkdbench.experiments.grid import cached_benchmark

    bench, _ = cached_benchmark("cifar100", DATA, "mean", None, setting(store))
    return next(t.resolve for t in bench.fidelity_tables() if t.fidelity.name == "nst12")


def assert_same_results(a, b):
    assert [(r.optimizer, r.seed) for r in a] == [(r.optimizer, r.seed) for r in b]
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x.evaluations, y.evaluations)
        assert (x.final_index, x.final_report) == (y.final_index, y.final_report)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory, one_thread):
    from click_cli import main

    tmp = tmp_path_factory.mktemp("live")
    store = tmp / "a" / "lowfi.jsonl"
    main(GRID + TRAINING + ["--lowfi-store", str(store), "--out", str(tmp / "one"), "--workers", "1"])
    return tmp, store, runs_of(tmp / "one")


def test_every_asked_cell_is_trained_once_and_a_rerun_trains_nothing(one_worker, capsys):
    from mfkdbench.experiments.executors import LocalExecutor

    tmp, store, runs = one_worker
    cells = asked(runs)
    records = LowFiStore(store).records()
    assert len(runs) == 4 and {r.benchmark for r in runs} == {"cifar100-live"}
    assert len(cells) >= 20  # each mfkd search asked its 10 initial cells, and more
    assert not asked([r for r in runs if r.optimizer == "random"])
    assert len(records) == len(cells) and {r["arch_index"] for r in records} == cells
    assert len({run_key(r) for r in records}) == len(records)
    assert resolver(store).trained == len(cells)  # this process trained each of them, once
    assert all(r["dataset"] == "digits" and r["loss"] == "nst" and r["channels"] == 4 for r in records)

    before = store.read_bytes()
    rerun = grid(store, tmp / "again", LocalExecutor(1))
    assert store.read_bytes() == before and resolver(store).trained == len(cells)
    assert_same_results(runs, rerun)
    err = capsys.readouterr().err
    assert "may need at most" in err and f"({len(cells)} runs stored)" in err and "device hours" in err
    assert (tmp / "one" / "summary.csv").is_file()


def test_two_workers_and_dask_give_the_same_results(one_worker):
    distributed = pytest.importorskip("distributed")
    from mfkdbench.experiments.executors import DaskExecutor, LocalExecutor

    tmp, store_a, runs = one_worker
    store_b = tmp / "b" / "lowfi.jsonl"
    two = grid(store_b, tmp / "two", LocalExecutor(2))  # a fresh store, trained by two processes
    assert_same_results(runs, two)
    a, b = ({run_key(r)[:1] + run_key(r)[2:]: r for r in LowFiStore(s).records()} for s in (store_a, store_b))
    assert a.keys() == b.keys()  # same cells and teacher: the teacher trained again bit for bit
    assert all(a[k]["curve"]["val_acc"] == b[k]["curve"]["val_acc"] for k in a)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = grid(store_b, tmp / "dask", DaskExecutor(cluster.scheduler_address))
    assert_same_results(runs, on_dask)
    assert len(LowFiStore(store_b).records()) == len(a)


def test_sigkill_during_live_training_loses_and_repeats_nothing(one_worker, tmp_path):
    from mfkdbench.experiments.executors import LocalExecutor
    from mfkdbench.lowfi.live import is_locked

    _, _, reference = one_worker
    store, out = tmp_path / "c" / "lowfi.jsonl", tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    one_search = [a if a != "mfkd,random" else "mfkd" for a in GRID]
    one_search[one_search.index("--seeds") + 1] = "1"
    proc = subprocess.Popen([sys.executable, str(REPO / "click_cli.py"), *one_search, *TRAINING, "--lowfi-store",
                             str(store), "--out", str(out), "--workers", "1"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    locks = store.parent / f"{store.name}.locks"
    deadline = time.monotonic() + 120
    while not (store.is_file() and len(LowFiStore(store).records()) >= 3 and any(map(is_locked, locks.glob("*")))):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # while it trains its next cell
    proc.wait()
    before = store.read_bytes()
    stored = LowFiStore(store).records()

    rerun = grid(store, out, LocalExecutor(1), ["mfkd"], seeds=1)
    records = LowFiStore(store).records()
    assert store.read_bytes().startswith(before) and records[:len(stored)] == stored
    assert len({run_key(r) for r in records}) == len(records) == len(asked(rerun))
    assert resolver(store).trained == len(records) - len(stored)  # the killed cell and the rest, each once
    assert_same_results([r for r in reference if (r.optimizer, r.seed) == ("mfkd", 0)], rerun)


@pytest.mark.parametrize("args, message", [
    (["--epochs", "3"], "--epochs only apply with --lowfi live"),
    (["--lowfi", "live", "--train-dataset", "digits", "--fraction", "2"], "data fraction must be in (0, 1]"),
    (["--lowfi", "live", "--train-dataset", "mnist"], "unknown training dataset"),
    (["--lowfi", "live", "--loss", "pkt"], "unknown loss"),
])
def test_bad_live_options_are_one_line_before_anything_runs(args, message, tmp_path, capsys):
    from click_cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--optimizer", "mfkd", "--dataset", "cifar100", "--lowfi-store", str(tmp_path / "s.jsonl"), *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "s.jsonl").exists()


def test_run_searches_the_whole_space_with_the_live_store(one_worker, capsys):
    """``run --lowfi live``: mfkd's seed-0 search asks the cells the grid's seed-0 search trained, so nothing trains."""
    from click_cli import main

    _, store, _ = one_worker
    before = store.read_bytes()
    main(["run", "--optimizer", "mfkd", "--dataset", "cifar100", "--budget", "14000", "--preset", "hf200",
          *TRAINING, "--lowfi-store", str(store)])
    out = capsys.readouterr().out
    assert out.startswith("mfkd on cifar100-live") and "final: index" in out
    assert store.read_bytes() == before


def test_a_baseline_at_the_kd_fidelity_shares_the_store(one_worker, capsys):
    """``random@nst12``, a low-fidelity-only baseline at the live KD fidelity: the cells the grid trained are read
    from the store, only the new ones are trained, each once, and its search is labelled as such."""
    from click_cli import main

    _, store, runs = one_worker
    stored = LowFiStore(store).records()
    main(["run", "--optimizer", "random@nst12", "--dataset", "cifar100", "--budget", "1200", *TRAINING,
          "--lowfi-store", str(store), "--json"])
    record = json.loads(capsys.readouterr().out)
    evals = pd.DataFrame(record["evaluations"])
    assert record["config"]["family"] == "low-fidelity-only" and set(evals["fidelity"]) == {"nst12"}
    cells = set(evals["index"].astype(int))
    records = LowFiStore(store).records()
    assert records[:len(stored)] == stored and len({run_key(r) for r in records}) == len(records)
    assert {r["arch_index"] for r in records[len(stored):]} == cells - {r["arch_index"] for r in stored}
    assert len(cells) >= 3
