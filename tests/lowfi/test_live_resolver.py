"""The on-demand low fidelity's resolver with a stand-in job (no torch): store first, train once, cost per cell,
concurrent askers, and a trainer killed with SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mfkdbench.lowfi.live import LiveResolver, LiveSetting, TrainingCounter, is_locked, live_costs, lock_path
from mfkdbench.lowfi.store import LowFiStore, run_key

REPO = str(Path(__file__).resolve().parents[2])

#: a job that "trains" by sleeping, logs every training to ``trainings.log``, and scores a cell by its index
FAKE_JOB = '''
import os, time
from pathlib import Path

class FakeJob:
    def __init__(self, setting):
        self.setting, self.log = setting, Path(setting.store).parent / "trainings.log"

    def key_fields(self, index):
        s = self.setting
        return {"arch_index": int(index), "dataset": s.dataset, "loss": s.loss, "epochs": s.epochs,
                "fraction": s.fraction, "teacher_hash": "t", "seed": s.seed, "channels": s.channels,
                "cells": s.cells}

    def run(self, index, arch):
        with open(self.log, "a") as fh:
            fh.write(f"{index} {os.getpid()}\\n")
        time.sleep(float(os.environ.get("FAKE_TRAIN_S", "0.2")))
        return {**self.key_fields(index), "arch": str(arch), "status": "ok", "test_acc": 0.0,
                "curve": {"val_acc": [index / 100.0], "train_time_s": [1.0]}}
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    (tmp_path / "fakejob.py").write_text(FAKE_JOB)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    import fakejob

    importlib.reload(fakejob)
    setting = LiveSetting(str(tmp_path / "store" / "lowfi.jsonl"), "digits", "cifar100", epochs=1, fraction=0.5)
    return setting, fakejob.FakeJob


def trainings(setting) -> list[int]:
    log = Path(setting.store).parent / "trainings.log"
    return [int(line.split()[0]) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_cell_is_trained_once_then_read_from_the_store(tables, fake):
    setting, job = fake
    resolver = LiveResolver(setting, tables, job)
    first = [resolver(i) for i in (5, 9, 5)]
    assert trainings(setting) == [5, 9] and resolver.trained == 2
    assert [s for s, _ in first] == [0.05, 0.09, 0.05]
    again = LiveResolver(setting, tables, job)  # another search, later: nothing to train
    assert [again(i) for i in (9, 5)] == [first[1], first[0]] and again.trained == 0
    assert len(LowFiStore(setting.store)) == 2


def test_cost_depends_on_the_cell_alone(tables, fake):
    """NB201's 1-epoch CIFAR-100 time x fraction x the authors' NST/CE ratio, whatever the store holds."""
    from mfkdbench.lowfi.sources import AUTHORS_NST_TIME_RATIO, authors_nst_time_ratio

    setting, job = fake
    assert AUTHORS_NST_TIME_RATIO == pytest.approx(authors_nst_time_ratio(tables), abs=5e-5)
    t200 = tables.get("cifar100", "time_200")
    resolver = LiveResolver(setting, tables, job)
    _, cost_alone = resolver(7)
    for i in range(20, 40):
        resolver(i)
    assert LiveResolver(setting, tables, job)(7)[1] == cost_alone == pytest.approx(t200[7] / 200 * 0.5 * 0.7756)
    ce = LiveSetting(setting.store, "digits", "cifar100", loss="ce", epochs=12)
    np.testing.assert_allclose(live_costs(tables, ce), t200 * 12 / 200)


def _ask(args):
    store, cells = args
    import fakejob
    from mfkdbench.nb201.tables import load_tables

    setting = LiveSetting(store, "digits", "cifar100", epochs=1, fraction=0.5)
    resolver = LiveResolver(setting, load_tables(None), fakejob.FakeJob)
    return [resolver(i) for i in cells]


def test_searches_asking_at_the_same_moment_train_a_cell_once(tables, fake):
    import multiprocessing

    setting, _ = fake
    cells = [3, 4, 3, 11, 4]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_ask, [(setting.store, cells[k:] + cells[:k]) for k in range(4)])
    assert sorted(trainings(setting)) == [3, 4, 11]
    by_cell = [dict(zip(cells[k:] + cells[:k], r)) for k, r in enumerate(results)]
    assert all(d == by_cell[0] for d in by_cell)
    keys = [run_key(r) for r in LowFiStore(setting.store).records()]
    assert len(keys) == len(set(keys)) == 3


ASKER = '''
import sys
sys.path[:0] = [sys.argv[1], sys.argv[4]]
import fakejob
from mfkdbench.lowfi.live import LiveResolver, LiveSetting
from mfkdbench.nb201.tables import load_tables
setting = LiveSetting(sys.argv[2], "digits", "cifar100", epochs=1, fraction=0.5)
resolver = LiveResolver(setting, load_tables(None), fakejob.FakeJob)
for i in map(int, sys.argv[3].split(",")):
    resolver(i)
print("trained", resolver.trained)
'''


def test_killed_mid_training_nothing_lost_nothing_trained_twice(tables, fake, tmp_path):
    setting, _ = fake
    script = tmp_path / "asker.py"
    script.write_text(ASKER)
    cells = "1,2,3,4"
    env = {**os.environ, "FAKE_TRAIN_S": "1.5"}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), setting.store, cells, REPO], env=env,
                            stdout=subprocess.PIPE, text=True)
    store = Path(setting.store)
    deadline = time.monotonic() + 60
    while not (store.is_file() and len(store.read_bytes().splitlines()) >= 2
               and trainings(setting)[-1:] == [3]):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    assert is_locked(lock_path(store, run_key(fake[1](setting).key_fields(3))))  # cell 3 is being trained
    counter = TrainingCounter(setting)
    assert (counter.stored(), counter.running()) == (2, 1)  # what the grid's progress display shows
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = store.read_bytes()
    assert [json.loads(line)["record"]["arch_index"] for line in before.splitlines()] == [1, 2]
    assert not is_locked(lock_path(store, run_key(fake[1](setting).key_fields(3))))  # the OS dropped it
    assert (counter.stored(), counter.running()) == (2, 0)

    rerun = subprocess.run([sys.executable, str(script), str(tmp_path), setting.store, cells, REPO],
                           env={**env, "FAKE_TRAIN_S": "0"}, capture_output=True, text=True, check=True)
    assert rerun.stdout.strip() == "trained 2"  # cells 3 and 4: 1 and 2 came from the store
    assert trainings(setting) == [1, 2, 3, 3, 4]  # 3 again only because its first training was killed
    after = store.read_bytes()
    assert after.startswith(before)
    assert [r["arch_index"] for r in LowFiStore(store).records()] == [1, 2, 3, 4] and counter.stored() == 4


def test_max_trainings_bounds_what_searches_can_ask():
    from mfkdbench.lowfi.live import max_trainings

    costs = np.array([np.nan, 10.0, 20.0, 40.0, 5.0])
    cells = np.array([1, 2, 3])  # cell 4 is cheaper but not searched
    assert max_trainings(costs, cells, 5.0, searches=2) == 2  # one evaluation each starts at time 0
    assert max_trainings(costs, cells, 15.0, searches=1) == 2  # at 0 and at 10 (overshooting the budget)
    assert max_trainings(costs, cells, 15.0, searches=1, sim_workers=2) == 3  # capped by the cells
    assert max_trainings(costs, cells, 100.0, searches=3) == 3


def test_a_live_run_validated_on_report_images_scores_no_search(tables, fake):
    import dataclasses

    from mfkdbench.errors import UserError

    setting, job = fake
    setting = dataclasses.replace(setting, dataset="cifar100")

    def seeded(s):
        trainer = job(s)
        run = trainer.run
        trainer.run = lambda index, arch: {**run(index, arch), "split": "seeded"}
        return trainer

    with pytest.raises(UserError, match="overlaps NB201's x-test images"):
        LiveResolver(setting, tables, seeded)(5)
    nb201 = dataclasses.replace(setting, store=str(Path(setting.store).with_name("nb201.jsonl")))
    assert LiveResolver(nb201, tables, job)(5)[0] == 0.05  # no split recorded (a stand-in job): served as before
