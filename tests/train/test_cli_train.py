"""``mfkdbench train`` and ``mfkdbench lowfi build`` end to end, on real offline digits."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from click_cli import main  # noqa: E402
from mfkdbench.lowfi.store import LowFiStore, run_key  # noqa: E402
from mfkdbench.nb201.space import Arch  # noqa: E402

ARCH_9930 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

TINY = ["--dataset", "digits", "--epochs", "1", "--channels", "4", "--cells", "1", "--batch-size", "128",
        "--fraction", "0.25", "--teacher-epochs", "1"]


def cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the suite runs in parallel workers on a small machine
    return subprocess.Popen([sys.executable, "-m", "click_cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_lowfi_build_killed_and_resumed_loses_and_duplicates_nothing(tmp_path):
    store = tmp_path / "lowfi.jsonl"
    args = ["lowfi", "build", "--loss", "nst", "--archs", "0:3,9930", "--store", str(store), *TINY]
    first = cli(*args)
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None:
        if store.is_file() and store.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.05)
    assert first.poll() is None, first.communicate()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    partial = len(LowFiStore(store).records())
    assert 1 <= partial < 4
    out, err = cli(*args).communicate(timeout=300)
    assert "trained=" in out, err
    summary = dict(item.split("=") for item in out.split())
    assert int(summary["skipped"]) == partial and int(summary["trained"]) == 4 - partial
    lines = store.read_bytes().splitlines()
    records = [json.loads(line)["record"] for line in lines]
    assert len(records) == 4 == len({run_key(r) for r in records})
    assert sorted(r["arch_index"] for r in records) == [0, 1, 2, 9930]
    assert len({r["teacher_hash"] for r in records}) == 1 and records[0]["teacher_hash"] == summary["teacher_hash"]
    assert all(r["status"] == "ok" and len(r["curve"]["val_acc"]) == 1 for r in records)
    arrays = LowFiStore(store).arrays("digits", "nst", 1, fraction=0.25, channels=4, cells=1)
    assert np.flatnonzero(~np.isnan(arrays["val"])).tolist() == [0, 1, 2, 9930]
    assert (arrays["time"][[0, 9930]] > 0).all()
    out, _ = cli(*args).communicate(timeout=300)  # a third run has nothing to do
    assert "trained=0" in out and len(store.read_bytes().splitlines()) == 4


def test_train_prints_curve(capsys):
    main(["train", "9930", *TINY])
    out, err = capsys.readouterr()
    assert "epoch  train_loss" in out and "test accuracy" in out
    progress = [line for line in err.splitlines() if line.startswith("arch 9930 epoch")]
    assert len(progress) == 1 and progress[0].startswith("arch 9930 epoch 1/1: loss ") and " val " in progress[0]
    assert len(out.splitlines()) == 4 and out.startswith(str(Arch.parse(ARCH_9930)))


@pytest.mark.parametrize("args, message", [
    (["train", "0", "--dataset", "mnist"], "unknown training dataset"),
    (["train", "|bad~0|", "--dataset", "digits"], "malformed NB201 arch"),
    (["train", "0", "--dataset", "cifar10"], "needs --data-dir"),
    (["train", "0", "--dataset", "cifar100", "--data-dir", "/nonexistent"], "cannot load cifar100"),
    (["train", "0", "--dataset", "digits", "--loss", "pkt"], "unknown loss"),
    (["lowfi", "build", "--dataset", "digits", "--archs", "5:2"], "bad index range"),
])
def test_bad_input_is_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
