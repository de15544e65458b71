"""A battery of bad inputs, one class per section: each is refused with exit code 2 and exactly one
``error:`` line on stderr, no traceback, and the stored results (a result folder, a low-fidelity store)
unchanged byte for byte. The classes follow issue 10: arch and index parsing, result folders,
low-fidelity stores, options, writes before validation.
"""
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from click_cli import main

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "cifar10", "--optimizers", "random", "--seeds", "2", "--workers", "1", "--quiet",
         "--budget", "30000"]  # a repeated option's last value wins: SMALL + ["--budget", "inf"]
ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def hashes(*paths) -> dict:
    """SHA-256 of every file under ``paths`` (files or folders), by path; absent paths give no entry."""
    out = {}
    for root in map(Path, paths):
        for path in [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def refused(capsys, args, message, *guarded) -> str:
    """Run ``mfkdbench ARGS`` in-process; assert exit 2, one ``error:`` line holding ``message``, nothing
    under ``guarded`` changed, created or removed. Returns the line."""
    before = hashes(*guarded)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert exit_info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert message in lines[0], lines[0]
    assert hashes(*guarded) == before
    return lines[0]


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A finished comparison (2 cells) that no bad input may change."""
    out = tmp_path_factory.mktemp("kept") / "results"
    main(["compare", *SMALL, "--out", str(out)])
    assert (out / "results.sqlite").is_file()
    return out


# ---- arch and index parsing ----------------------------------------------------------------------------

NOT_INDEX = "is neither an NB201 index"


@pytest.mark.parametrize("text,message", [
    ("-5", "NB201 index -5 out of range 0..15624"),
    ("15625", "NB201 index 15625 out of range"),
    ("--7", NOT_INDEX),
    ("²", NOT_INDEX),                       # str.isdigit() is True for these three
    ("٣", NOT_INDEX),
    ("１２", NOT_INDEX),
    ("9" * 5000, "(5000 characters) out of range 0..15624"),  # int() refuses over 4,300 digits
    ("-" + "1" * 5000, "out of range 0..15624"),
    ("12 34", NOT_INDEX),
    ("   ", NOT_INDEX),
    ("|none~٠|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed NB201 arch string"),
    (ARCH.replace("~2|", "~²|"), "malformed NB201 arch string"),
])
def test_arch_and_index(capsys, text, message, kept):
    refused(capsys, ["arch", "--", text], message, kept)


@pytest.mark.parametrize("archs,message", [
    ("²", NOT_INDEX),
    ("9" * 5000, "--archs N '99999"),
    ("0:٣", "bad index range '0:٣'"),
    ("0:" + "9" * 5000, "bad index range"),
    ("-3", "--archs N -3 out of range 1..15625"),
    ("5,٣", NOT_INDEX),
])
def test_lowfi_build_archs(capsys, archs, message, tmp_path):
    store = tmp_path / "lowfi.jsonl"
    refused(capsys, ["lowfi", "build", "--dataset", "digits", "--archs", archs, "--store", str(store)], message)
    assert not store.exists()


def test_dash_index_without_double_dash(capsys, kept):
    refused(capsys, ["arch", "-5"], "No such option '-5'", kept)


def test_train_arch_before_any_data_is_loaded(capsys):
    refused(capsys, ["train", "٣", "--dataset", "cifar10"], NOT_INDEX)  # no --data-dir needed to refuse it


# ---- result folders -------------------------------------------------------------------------------------

def _copy(kept, tmp_path) -> Path:
    return Path(shutil.copytree(kept, tmp_path / "copy"))


def _set_manifest(folder, body) -> None:
    db = sqlite3.connect(folder / "results.sqlite")
    with db:
        db.execute("UPDATE manifest SET body = ?", (body,))
    db.close()  # the last connection folds the WAL back into the file
    assert not (folder / "results.sqlite-wal").exists()


def _foreign_db(path, *statements) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()


@pytest.mark.parametrize("case,message", [
    ("file", "is a file; give a new or empty folder"),
    ("below-file", "which is a file"),
    ("other-files", "holds other files but no results.sqlite"),
    ("foreign-sqlite", "is an SQLite database of something else"),
    ("store-like-sqlite", "is an SQLite database of something else"),
    ("not-sqlite", "is not a readable SQLite result store"),
    ("read-only-system", "is not writable"),
])
def test_compare_out_folder(capsys, tmp_path, case, message, kept):
    out = {"file": tmp_path / "f", "below-file": tmp_path / "f" / "sub", "read-only-system": Path("/sys/mfkdbench-x")
           }.get(case, tmp_path / "d")
    (tmp_path / "f").write_text("a file\n")
    if case == "other-files":
        out.mkdir()
        (out / "notes.txt").write_text("mine\n")
    if case == "foreign-sqlite":
        _foreign_db(out / "results.sqlite", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
    if case == "store-like-sqlite":  # one of the tables, under another application's id
        _foreign_db(out / "results.sqlite", "PRAGMA application_id = 7", "CREATE TABLE manifest (id, body)")
    if case == "not-sqlite":
        out.mkdir()
        (out / "results.sqlite").write_text("not a database\n")
    refused(capsys, ["compare", *SMALL, "--out", str(out)], message, tmp_path, kept)


@pytest.mark.parametrize("where,message", [("below-file", "which is a file"), ("/sys", "/sys is not writable")])
def test_lowfi_build_store_path_before_training(capsys, tmp_path, where, message):
    (tmp_path / "f").write_text("a file\n")
    store = tmp_path / "f" / "lowfi.jsonl" if where == "below-file" else Path("/sys/mfkdbench-lowfi.jsonl")
    refused(capsys, ["lowfi", "build", "--dataset", "digits", "--archs", "1", "--epochs", "1", "--store", str(store)],
            message, tmp_path)


@pytest.mark.skipif(sys.platform == "win32" or __import__("os").geteuid() == 0, reason="root writes anywhere")
def test_compare_out_read_only_folder(capsys, tmp_path):
    tmp_path.chmod(0o555)
    try:
        refused(capsys, ["compare", *SMALL, "--out", str(tmp_path / "new")], "is not writable", tmp_path)
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("body", ["{not json", b"\xff\xfe\x00garbage", "[1, 2]", "null"])
@pytest.mark.parametrize("command", ["compare", "figures"])
def test_corrupt_manifest(capsys, tmp_path, kept, body, command):
    folder = _copy(kept, tmp_path)
    _set_manifest(folder, body)
    args = ["compare", *SMALL, "--out", str(folder)] if command == "compare" else ["figures", "--results", str(folder)]
    refused(capsys, args, "has a corrupt manifest (not a JSON object)", folder)


def _edit_records(folder, edit) -> None:
    """Apply ``edit`` to every stored run record's JSON body."""
    db = sqlite3.connect(folder / "results.sqlite")
    with db:
        for key, blob in db.execute("SELECT key, run FROM cells").fetchall():
            body = json.loads(zlib.decompress(blob))
            edit(body)
            db.execute("UPDATE cells SET run = ? WHERE key = ?", (zlib.compress(json.dumps(body).encode()), key))
    db.close()


@pytest.mark.parametrize("edit", [lambda b: b.pop("evaluations"), lambda b: b["incumbents"].pop("__frame__"),
                                  lambda b: b.update(evaluations=[1, 2]), lambda b: b.pop("final_index")],
                         ids=["no-evaluations", "no-frame", "frame-not-a-dict", "missing-field"])
def test_corrupt_run_record(capsys, tmp_path, kept, edit):
    folder = _copy(kept, tmp_path)
    _edit_records(folder, edit)
    refused(capsys, ["figures", "--results", str(folder)], "holds a corrupt record", folder)


def test_figures_never_creates_a_missing_table(capsys, tmp_path):
    folder = tmp_path / "r"
    _foreign_db(folder / "results.sqlite", "CREATE TABLE manifest (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)")
    refused(capsys, ["figures", "--results", str(folder)], "is an SQLite database of something else", folder)
    with sqlite3.connect(folder / "results.sqlite") as db:
        assert [n for (n,) in db.execute("SELECT name FROM sqlite_master")] == ["manifest"]


def test_figures_on_a_foreign_database(capsys, tmp_path):
    folder = tmp_path / "r"
    _foreign_db(folder / "results.sqlite", "CREATE TABLE t (x)")
    refused(capsys, ["figures", "--results", str(folder)], "not an mfkdbench result store", folder)


# ---- low-fidelity stores ----------------------------------------------------------------------------------

def _record(index, **changes):
    record = {"arch_index": index, "dataset": "cifar100", "loss": "nst", "epochs": 2, "fraction": 1.0,
              "teacher_hash": "t0", "seed": 0, "channels": 16, "cells": 5, "status": "ok", "reason": "",
              "test_acc": 60.0 + index % 7, "curve": {"val_acc": [40.0, 50.0 + index % 5], "train_time_s": [5.0, 5.0]}}
    record.update(changes)
    return record


def _line(record) -> str:
    """A store line whose checksum matches ``record``, however malformed the record is."""
    from mfkdbench.lowfi.store import _digest

    return json.dumps({"record": record, "sha256": _digest(record)}) + "\n"


@pytest.mark.parametrize("changes,message", [
    ({"arch_index": -1}, "arch_index -1 is not an NB201 index"),  # once wrapped to cell 15624
    ({"arch_index": 15625}, "arch_index 15625 is not an NB201 index"),
    ({"arch_index": "7"}, "arch_index '7' is not an NB201 index"),
    ({"arch_index": 7.0}, "arch_index 7.0 is not an NB201 index"),
    ({"epochs": "2"}, "epochs '2' is not a positive integer"),
    ({"fraction": 0}, "fraction 0 is not a number in (0, 1]"),
    ({"status": "done"}, "status 'done' is neither"),
    ({"curve": {"val_acc": [50.0]}}, "curve lacks lists of numbers"),
    ({"curve": {"val_acc": ["a", "b"], "train_time_s": [1, 1]}}, "curve lacks lists of numbers"),
    ({"curve": {"val_acc": [1.0, 2.0, 3.0], "train_time_s": [1.0, 1.0, 1.0]}}, "has a curve of 3 points"),
    ({"test_acc": None}, "test_acc None is not a number"),
    ({"seed": None}, "seed None is not a non-negative integer"),
])
def test_lowfi_store_record(capsys, tmp_path, changes, message):
    path = tmp_path / "lowfi.jsonl"
    path.write_text("".join(_line(_record(i)) for i in range(8)) + _line(_record(8, **changes)))
    line = refused(capsys, ["run", "--optimizer", "random", "--dataset", "cifar100", "--lowfi-store", str(path)],
                   message, path)
    assert "line 9" in line


def test_lowfi_store_record_that_is_not_an_object(capsys, tmp_path):
    path = tmp_path / "lowfi.jsonl"
    path.write_text(_line(_record(1)) + _line([1, 2, 3]))
    refused(capsys, ["run", "--optimizer", "random", "--dataset", "cifar100", "--lowfi-store", str(path)],
            "line 2: the record is not a JSON object", path)


def test_nan_accuracy_counts_as_failed_and_shifts_no_cost(tables, tmp_path):
    from mfkdbench.lowfi.sources import store_source

    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text("".join(_line(_record(i)) for i in range(8)))
    nan_run = _record(8, curve={"val_acc": [40.0, float("nan")], "train_time_s": [500.0, 500.0]})
    bad.write_text(good.read_text() + _line(nan_run))
    clean, with_nan = (store_source(tables, "cifar100", p, "nst", 2) for p in (good, bad))
    assert with_nan.known.tolist() == list(range(8))
    assert with_nan.costs[:8].tolist() == clean.costs[:8].tolist()  # the NaN run's 100x time calibrates nothing
    assert clean.costs[0] > 0


# ---- options ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra,message", [
    (["--budget", "inf"], "'inf' is not a finite number"),
    (["--budget", "nan"], "'nan' is not a finite number"),
    (["--budget", "-5"], "-5.0 is not in the range x>0"),
    (["--budget", "1e12"], "at most 20,000 are allowed: give --budget at most"),
    (["--target-regret", "nan"], "'nan' is not a finite number"),
    (["--target-regret", "-0.5"], "-0.5 is not in the range x>=0"),
    (["--seeds", "1000000000"], "1000000000 is not in the range 1<=x<=10000"),
    (["--workers", "100000"], "100000 is not in the range 1<=x<=256"),
    (["--sim-workers", "1000000"], "1000000 is not in the range 1<=x<=1000"),
])
def test_compare_options(capsys, kept, extra, message):
    refused(capsys, ["compare", *SMALL, *extra, "--out", str(kept)], message, kept)


@pytest.mark.parametrize("args,message", [
    (["run", "--optimizer", "rea", "--dataset", "cifar10", "--budget", "inf"], "'inf' is not a finite number"),
    (["run", "--optimizer", "rea", "--dataset", "cifar10", "--budget", "1e15"], "buys about 5.5e+11 evaluations"),
    (["run", "--optimizer", "rea", "--dataset", "cifar10", "--seed", "-1"], "-1 is not in the range 0<=x<="),
    (["run", "--optimizer", "rea", "--dataset", "cifar10", "--evaluations", "0"], "0 is not in the range x>=1"),
    (["train", "0", "--dataset", "digits", "--epochs", "1000000000"], "is not in the range 1<=x<=1000"),
    (["train", "0", "--dataset", "digits", "--teacher-epochs", "0"], "0 is not in the range 1<=x<=1000"),
    (["train", "0", "--dataset", "digits", "--fraction", "nan"], "'nan' is not a finite number"),
    (["train", "0", "--dataset", "digits", "--fraction", "1e-300"], "keeps 0 of the 1197 digits training images"),
    (["lowfi", "build", "--dataset", "digits", "--archs", "2", "--seed", "-1"], "-1 is not in the range 0<=x<="),
    (["correlation", "--dataset", "cifar10", "--seed", "-1"], "-1 is not in the range 0<=x<="),
    (["correlation", "--dataset", "cifar10", "--bootstrap", "1000000000"], "is not in the range 0<=x<=100000"),
    (["figures", "--results", "KEPT", "--target-regret", "nan"], "'nan' is not a finite number"),
])
def test_other_options(capsys, kept, args, message):
    refused(capsys, [str(kept) if a == "KEPT" else a for a in args], message, kept)


@pytest.mark.parametrize("content,message", [
    (b"garbage\n", "is not a readable torch checkpoint (it does not unpickle as tensors)"),
    (b"", "is not a readable torch checkpoint (EOFError)"),
    ([1, 2], "is not an mfkdbench teacher (missing or mistyped: arch, channels"),
    ({"arch": ARCH, "channels": "4", "cells": 1, "num_classes": 10, "dataset": "digits", "state_dict": {}},
     "missing or mistyped: channels"),
    ({"arch": ARCH, "channels": 4, "cells": 1, "num_classes": 10, "dataset": "digits", "state_dict": {"w": 1}},
     "does not hold a valid teacher network"),
    ({"arch": "resnet", "channels": 4, "cells": 1, "num_classes": 10, "dataset": "digits", "state_dict": {}},
     "does not hold a valid teacher network (malformed NB201 arch string 'resnet'"),
])
def test_garbage_teacher(capsys, tmp_path, content, message):
    torch = pytest.importorskip("torch")
    path = tmp_path / "teacher.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    refused(capsys, ["train", "0", "--dataset", "digits", "--loss", "kd", "--epochs", "1", "--teacher", str(path)],
            message, path)


def test_teacher_that_is_a_folder(capsys, tmp_path):
    refused(capsys, ["train", "0", "--dataset", "digits", "--loss", "kd", "--teacher", str(tmp_path)],
            "is a directory")


# ---- writes before validation ---------------------------------------------------------------------------

def test_infinite_budget_leaves_the_folder_usable(capsys, kept):
    refused(capsys, ["compare", *SMALL, "--budget", "inf", "--out", str(kept)], "not a finite", kept)
    from mfkdbench.errors import UserError
    from mfkdbench.report.pipeline import compare

    with pytest.raises(UserError, match="positive, finite number"):  # the same through the Python API
        compare("cifar10", 2, ["random"], budget_s=float("inf"), workers=1, out=kept, progress=False)
    main(["compare", *SMALL, "--out", str(kept)])  # a valid rerun is not refused by a stray manifest
    assert re.search(r"wrote \d+ files", capsys.readouterr().out)


@pytest.mark.parametrize("folder", ["new", "kept"])
def test_unknown_reference_is_refused_before_any_cell_runs(capsys, tmp_path, kept, folder):
    out = tmp_path / "new" if folder == "new" else kept
    refused(capsys, ["compare", *SMALL, "--reference", "nope", "--out", str(out)],
            "--reference 'nope' is not among the optimizers of this comparison (random@200)", kept)
    assert out.exists() == (folder == "kept")


def test_unreachable_dask_scheduler_leaves_no_manifest(capsys, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from mfkdbench.experiments import executors

    monkeypatch.setattr(executors.DaskExecutor.__init__, "__defaults__", (None, None, 1.0))  # 1 s, not 30
    out = tmp_path / "new"
    refused(capsys, ["compare", *SMALL, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)],
            "cannot reach the Dask scheduler 'tcp://127.0.0.1:9'")
    assert not out.exists()


def test_a_reference_already_stored_is_accepted(capsys, kept, tmp_path):
    folder = _copy(kept, tmp_path)
    main(["compare", *SMALL[:3], "rea", *SMALL[4:], "--reference", "random", "--out", str(folder)])
    assert "against **random@200**" in (folder / "statistics.md").read_text()  # base name -> its only label


# ---- end to end: no traceback from a fresh interpreter ---------------------------------------------------

@pytest.mark.parametrize("args", [
    ["arch", "--", "9" * 5000],
    ["compare", *SMALL, "--budget", "inf", "--out", "OUT"],
])
def test_subprocess_prints_one_line(tmp_path, args):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "click_cli.py"), *[str(out) if a == "OUT" else a for a in args]],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert not out.exists()


def test_negative_seed_through_the_python_api():
    from mfkdbench.errors import UserError
    from mfkdbench.lowfi.correlation import correlation_table

    with pytest.raises(UserError, match=r"--seed must be in 0\.\.4294967295, got -1"):
        correlation_table("cifar10", seed=-1)
    pytest.importorskip("torch")
    from mfkdbench.train.trainer import TrainConfig

    with pytest.raises(UserError, match="--seed must be in"):
        TrainConfig(seed=-1)
