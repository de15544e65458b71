"""The append-only low-fidelity store: dedup, torn tails, corrupt lines, arrays."""
import json

import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.lowfi.store import LowFiStore, run_key


def record(index, val=50.0, seed=0, teacher="abc", status="ok"):
    return {"arch_index": index, "dataset": "cifar100", "loss": "nst", "epochs": 2, "fraction": 1.0,
            "teacher_hash": teacher, "seed": seed, "channels": 16, "cells": 5, "status": status,
            "reason": "", "test_acc": val + 1,
            "curve": {"val_acc": [val - 10, val], "train_time_s": [1.5, 2.5], "train_loss": [1, 0.5]}}


def test_append_once_and_reload(tmp_path):
    path = tmp_path / "t.jsonl"
    store = LowFiStore(path)
    assert store.append(record(3)) and not store.append(record(3, val=99))
    assert store.append(record(3, seed=1))
    again = LowFiStore(path)
    assert len(again) == 2 and run_key(record(3)) in again
    assert again.records()[0]["curve"]["val_acc"] == [40.0, 50.0]


def test_torn_tail_is_ignored_then_cut(tmp_path):
    path = tmp_path / "t.jsonl"
    LowFiStore(path).append(record(1))
    with open(path, "ab") as fh:
        fh.write(b'{"record": {"arch_index": 2, "data')  # a writer killed mid-line
    store = LowFiStore(path)
    assert len(store) == 1
    assert store.append(record(2))
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    assert [r["arch_index"] for r in LowFiStore(path).records()] == [1, 2]


def test_corrupt_line_is_skipped_with_warning(tmp_path):
    path = tmp_path / "t.jsonl"
    store = LowFiStore(path)
    store.append(record(1))
    store.append(record(2))
    text = path.read_text().replace('"arch_index": 1', '"arch_index": 7')
    path.write_text(text)
    with pytest.warns(UserWarning, match="corrupt"):
        assert [r["arch_index"] for r in LowFiStore(path).records()] == [2]


def test_arrays_match_the_authors_columns(tmp_path):
    store = LowFiStore(tmp_path / "t.jsonl")
    store.append(record(5, val=60.0, seed=0))
    store.append(record(5, val=70.0, seed=1))
    store.append(record(9, status="failed"))
    out = store.arrays("cifar100", "nst", 2)
    assert out["val"].shape == (15625,) and out["curve_val"].shape == (15625, 2)
    assert out["val"][5] == 65.0 and out["test"][5] == 66.0 and out["time"][5] == 4.0
    assert out["curve_val"][5].tolist() == [55.0, 65.0]
    assert np.isnan(out["val"][9]) and out["failed"][9] and not out["failed"][5]
    assert np.isnan(out["val"]).sum() == 15624
    store.append(record(6, teacher="other"))
    with pytest.raises(UserError, match="several teachers"):
        store.arrays("cifar100", "nst", 2)
    assert np.isnan(store.arrays("cifar100", "nst", 2, teacher_hash="abc")["val"][6])


def test_runs_validated_on_a_seeded_half_of_the_test_set_score_no_search(tables, tmp_path):
    """CIFAR-100's validation images are half of its test set: only NB201's split keeps them off the report's
    x-test half, so runs with a seeded split become no search fidelity; CIFAR-10 validates on training images."""
    from mfkdbench.lowfi.sources import store_source

    path = tmp_path / "t.jsonl"
    store = LowFiStore(path)
    store.append({**record(3), "split": "nb201"})
    assert store_source(tables, "cifar100", path, "nst", 2).known.tolist() == [3]
    store.append({**record(4), "split": "seeded"})
    with pytest.raises(UserError, match="overlaps NB201's x-test images"):
        store_source(tables, "cifar100", path, "nst", 2)
    other = tmp_path / "c10.jsonl"
    LowFiStore(other).append({**record(5), "dataset": "cifar10", "split": "seeded"})
    assert store_source(tables, "cifar10", other, "nst", 2).known.tolist() == [5]
