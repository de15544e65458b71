"""The live low fidelity with the real trainer (offline digits, tiny networks), and ``run --lowfi-store``."""

import numpy as np
import pytest

from mfkdbench.errors import UserError

TINY = dict(loss="nst", epochs=1, channels=4, cells=1, fraction=0.25, batch_size=128, teacher_epochs=1, seed=0)


@pytest.fixture
def one_thread():
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the suite runs in parallel workers on a small machine
    yield
    torch.set_num_threads(threads)


def test_live_source_trains_only_missing_cells_with_the_real_trainer(tables, space, tmp_path, one_thread):
    """Digits is no NB201 dataset: costs are calibrated against NB201's CIFAR-100 times (``cost_dataset``)."""
    from mfkdbench.lowfi.catalog import low_fidelity
    from mfkdbench.train.jobs import live_source
    from mfkdbench.lowfi.store import LowFiStore

    path = tmp_path / "lowfi.jsonl"
    source = live_source(path, space, dataset="digits", **TINY)
    assert source.ensure([0, 9930, 0]) == 2
    assert source.ensure([9930, 0]) == 0  # already stored: nothing trained
    assert source.ensure([0, 7]) == 1
    records = LowFiStore(path).records()
    assert sorted(r["arch_index"] for r in records) == [0, 7, 9930]
    assert {r["teacher_hash"] for r in records} == {source.job.teacher_hash} != {None}
    assert all(r["status"] == "ok" and r["loss"] == "nst" and r["channels"] == 4 for r in records)

    low = source.low_fidelity(tables, [0, 7, 9930], cost_dataset="cifar100")
    assert low.known.tolist() == [0, 7, 9930] and low.fidelity.name == "nst1"
    assert np.isfinite(low.scores[low.known]).all() and np.isnan(low.scores[1])
    assert (low.scores[low.known] >= 0).all() and (low.scores[low.known] <= 100).all()
    assert "NB201 cifar100 times" in low.fidelity.description
    # the median cell costs exactly its NB201 1-epoch CIFAR-100 time (the calibration's definition)
    ratio = low.costs[low.known] / (tables.get("cifar100", "time_200")[low.known] / 200)
    assert np.median(ratio) == pytest.approx(1.0)

    # by name, with the same job: nothing left to train, the same low fidelity
    again = low_fidelity("live", tables, "digits", job=source.job, path=path, indices=[7, 0],
                         cost_dataset="cifar100")
    np.testing.assert_array_equal(again.scores, low.scores)
    assert len(LowFiStore(path).records()) == 3
    with pytest.raises(UserError, match="no NB201 training times for digits"):
        source.low_fidelity(tables, [0])  # no NB201 times for digits without cost_dataset


def _nst_store(tables, path, cells):
    """A store with 12-epoch NST records for CIFAR-100 ``cells``; values are NB201's own 12-epoch runs
    (real data standing in for trained ones, so the search has a low fidelity to use)."""
    val, test, t200 = (tables.get("cifar100", m) for m in ("val_acc_12", "test_acc_12", "time_200"))
    from mfkdbench.lowfi.store import LowFiStore

    store = LowFiStore(path)
    for i in cells:
        store.append({"arch_index": int(i), "dataset": "cifar100", "loss": "nst", "epochs": 12, "fraction": 1.0,
                      "teacher_hash": "t0", "seed": 0, "channels": 16, "cells": 5, "status": "ok",
                      "test_acc": float(test[i]), "curve": {"val_acc": [float(val[i])] * 12,
                                                            "train_time_s": [float(t200[i]) / 200] * 12}})


def test_run_with_a_lowfi_store(tables, tmp_path, capsys):
    from click_cli import main

    cells = np.random.default_rng(0).choice(15625, 80, replace=False)
    path = tmp_path / "lowfi.jsonl"
    _nst_store(tables, path, cells)
    main(["run", "--optimizer", "mfkd", "--dataset", "cifar100", "--evaluations", "20", "--lowfi-store", str(path),
          "--preset", "hf200"])
    out = capsys.readouterr().out
    assert out.startswith("mfkd on cifar100-store")
    assert "evaluations: 20" in out
    final = int(out.split("final: index ")[1].split()[0])
    assert final in cells

    from mfkdbench import load_benchmark
    from mfkdbench.lowfi.catalog import store_benchmark

    bench = store_benchmark(load_benchmark("cifar100"), path)
    assert sorted(bench.space.candidates) == sorted(cells) and "nst12" in bench.fidelities
    assert bench.score(int(cells[0]), "nst12") == pytest.approx(tables.get("cifar100", "val_acc_12")[cells[0]])


@pytest.mark.parametrize("content", [None, b"not json\n"])
def test_run_with_a_missing_or_corrupt_lowfi_store_is_one_line(tmp_path, capsys, content):
    from click_cli import main

    path = tmp_path / "lowfi.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:  # no warning line before the error line
        main(["run", "--optimizer", "mfkd", "--dataset", "cifar100", "--evaluations", "5", "--lowfi-store", str(path)])
    err = capsys.readouterr().err
    expected = "is not a low-fidelity store" if content is not None else "no low-fidelity store at"
    assert exit_info.value.code == 2 and err.startswith("error: ") and expected in err
    assert err.count("\n") == 1
    assert path.exists() == (content is not None) and (content is None or path.read_bytes() == content)


def test_compare_with_a_lowfi_store_resumes_and_refuses_a_changed_store(tables, tmp_path, capsys):
    """compare on the store's cells: mfkd runs on them; unrelated appends keep the results valid, a new NST run
    of the same kind changes the benchmark, so the folder refuses it and keeps what it holds."""
    from click_cli import main
    from mfkdbench.lowfi.store import LowFiStore
    from mfkdbench.experiments.store import ResultStore

    cells = np.random.default_rng(1).choice(15625, 60, replace=False)
    path, out = tmp_path / "lowfi.jsonl", tmp_path / "results"
    _nst_store(tables, path, cells[:50])
    args = ["compare", "--dataset", "cifar100", "--optimizers", "mfkd,random", "--seeds", "2", "--budget", "30000",
            "--lowfi-store", str(path), "--out", str(out), "--quiet", "--workers", "1"]
    main(args)
    text = capsys.readouterr().out
    assert text.startswith("# cifar100-store") and "| mfkd | 2 |" in text
    with ResultStore(out, create=False) as store:
        manifest, runs = store.manifest(), store.runs()
    assert manifest["benchmark"] == "cifar100-store" and manifest["lowfi_store"] == str(path.resolve())
    assert len(runs) == 4 and all(set(r.evaluations["index"]) <= set(cells[:50]) for r in runs)
    assert any("nst12" in set(r.evaluations["fidelity"]) for r in runs if r.optimizer == "mfkd")

    record = {k: v for k, v in LowFiStore(path).records()[0].items()}
    LowFiStore(path).append({**record, "dataset": "cifar10"})  # another dataset: same benchmark
    main(args)
    assert "wrote" in capsys.readouterr().out
    before = (out / "results.sqlite").read_bytes()
    _nst_store(tables, path, cells[50:])
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "holds results of other data or settings" in err and err.count("\n") == 1
    assert (out / "results.sqlite").read_bytes() == before


def test_a_cell_refuses_a_store_that_changed_after_planning(tables, tmp_path):
    from mfkdbench.experiments.grid import Cell, make_protocol, run_cell

    cells = np.random.default_rng(2).choice(15625, 30, replace=False)
    path = tmp_path / "lowfi.jsonl"
    _nst_store(tables, path, cells[:20])
    protocol = make_protocol("cifar100", None, budget_s=20_000.0, lowfi_store=str(path))
    cell, blob, _ = run_cell((protocol, None, Cell("random", 0)))
    assert cell.key == "random/0" and blob
    _nst_store(tables, path, cells[20:])
    with pytest.raises(UserError, match="changed during the comparison"):
        run_cell((protocol, None, Cell("random", 1)))
