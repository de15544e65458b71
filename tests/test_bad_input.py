"""A battery of bad inputs, one class per section: each is refused with exit code 2 and exactly one
``error:`` line on stderr, no traceback, and the stored results (a result folder, a low-fidelity store)
unchanged byte for byte. The classes follow issue 10: arch and index parsing, result folders,
low-fidelity stores, options, writes before validation.
"""
import hashlib
import os
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
    ("   ", "an empty value is not allowed"),
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
    (["--optimizers", "random,mf-ce[beta=x]"], "option beta of mf-ce takes a finite number, got 'x'"),
    (["--optimizers", "random,mf-ce[beta=2"], "unbalanced brackets; give options as NAME[OPTION=VALUE,...]"),
    (["--optimizers", "random,mf-ce[beta=2]]"], "unbalanced brackets"),
    (["--optimizers", "random,mf-ce[[beta=2]]"], "unbalanced brackets"),
    (["--optimizers", "hyperband[rungs=ce12,200,eta=1]"], "option eta of hyperband must be an integer >= 2"),
    (["--optimizers", "rea[population_size=5]@ce12,rea[bogus=1]@ce12"], "optimizer 'rea' has no option(s) bogus"),
])
def test_compare_options(capsys, kept, extra, message):
    refused(capsys, ["compare", *SMALL, *extra, "--out", str(kept)], message, kept)


def test_options_a_spec_names_are_checked_together_before_the_result_store(capsys, tmp_path):
    """Each value in its range, but ratio cannot act with allocation=cost: refused before anything is written."""
    refused(capsys, ["compare", *SMALL, "--optimizers", "random,mf-ce[allocation=cost,ratio=3]", "--out",
                     str(tmp_path / "new")], "ratio does nothing with allocation='cost'", tmp_path)
    assert not (tmp_path / "new").exists()


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
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "beta"], "'beta' is not NAME=VALUE"),
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "=2"], "'=2' is not NAME=VALUE"),
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "beta=1", "--option", "beta=2"],
     "'beta' given twice"),
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "beta=x"],
     "option beta of mf-ce takes a finite number, got 'x'"),
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "beta=inf"],
     "option beta of mf-ce takes a finite number, got 'inf'"),
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "ratio=2.5"],
     "option ratio of mf-ce takes an integer, got '2.5'"),
    (["run", "--optimizer", "tpe@200", "--dataset", "cifar100", "--option", "multivariate=1"],
     "option multivariate of tpe takes true or false, got '1'"),
    (["run", "--optimizer", "asha", "--dataset", "cifar100", "--option", "rungs=ce12,"],
     "option rungs of asha takes a comma list without empty items"),
    (["run", "--optimizer", "rea@ce12", "--dataset", "cifar100", "--option", "zero_cost=params"],
     "optimizer 'rea' has no option(s) zero_cost; its options: population_size, sample_size"),
    (["run", "--optimizer", "random", "--dataset", "cifar100", "--option", "k=1"], "its options: none"),
    (["run", "--optimizer", "gp-hf@200", "--dataset", "cifar100", "--option", "zz=1"],
     "its options: acquisition, beta, candidates, encoding, n_init_high"),
    (["run", "--optimizer", "rea@ce12", "--dataset", "cifar100", "--option", "population_size=0"],
     "option population_size of rea must be an integer >= 1, got 0"),
    (["run", "--optimizer", "dehb", "--dataset", "cifar100", "--option", "eta=1000000"],
     "option eta of dehb must be an integer >= 2 and <= 100, got 1000000"),
    (["run", "--optimizer", "hyperband", "--dataset", "cifar100", "--option", "rungs=200,ce12"],
     "hyperband: rungs must be distinct fidelities, cheapest first, got 200,ce12"),
    (["run", "--optimizer", "hyperband", "--dataset", "cifar100", "--option", "rungs=ce12,ce12,200"],
     "rungs must be distinct fidelities, cheapest first, got ce12,ce12,200"),
    (["run", "--optimizer", "mf-ce", "--dataset", "cifar100", "--option", "allocation=cost", "--option", "ratio=3"],
     "ratio does nothing with allocation='cost'"),
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


# ---- a user's file is never changed (issue 22) ------------------------------------------------------------

NOT_A_STORE = "is not a low-fidelity store"


@pytest.mark.parametrize("content,message", [
    (b"notes\nchapter 2, not saved elsewhere", NOT_A_STORE),  # the last line has no newline: once cut off
    (b"notes\n", NOT_A_STORE),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", NOT_A_STORE),
    (b'{"a": 1}\n{"b": 2}\n', NOT_A_STORE),  # JSON lines of something else
    (b"garbage\n" * 5, NOT_A_STORE),  # all garbage: one error line, no warning line before it
    (b"\n", NOT_A_STORE),
    ("STORE" + "my own line, no newline", "ends in a line that no store writer began"),
])
@pytest.mark.parametrize("command", ["lowfi build", "run", "compare --lowfi live"])
def test_a_file_that_is_no_lowfi_store_is_refused_unchanged(capsys, tmp_path, content, message, command):
    path = tmp_path / "notes.txt"
    path.write_bytes(content if isinstance(content, bytes) else
                     (_line(_record(1)) + content.removeprefix("STORE")).encode())
    args = {"lowfi build": ["lowfi", "build", "--dataset", "digits", "--archs", "1", "--epochs", "1", "--store"],
            "run": ["run", "--optimizer", "random", "--dataset", "cifar100", "--lowfi-store"],
            "compare": None}.get(command) or [*SMALL, "--lowfi", "live", "--train-dataset", "digits",
                                              "--out", str(tmp_path / "out"), "--lowfi-store"]
    args = ["compare", *args] if command.startswith("compare") else args
    refused(capsys, [*args, str(path)], message, tmp_path)  # nothing in tmp_path created or changed


def test_a_torn_store_line_is_repaired_but_nothing_else(tmp_path):
    from mfkdbench.lowfi.store import LowFiStore

    path = tmp_path / "lowfi.jsonl"
    path.write_text(_line(_record(1)) + '{"record": {"arch_index": 2, "da')  # a writer killed mid-line
    assert LowFiStore(path).append(_record(2))
    assert [json.loads(line)["record"]["arch_index"] for line in path.read_text().splitlines()] == [1, 2]
    path.write_text('{"rec')  # a first write killed: still a store
    assert LowFiStore(path).append(_record(3)) and len(LowFiStore(path)) == 1


def test_corrupt_store_lines_are_one_warning_line(tmp_path):
    import warnings

    from mfkdbench.lowfi.store import LowFiStore

    path = tmp_path / "lowfi.jsonl"
    path.write_text("".join(_line(_record(i)) for i in range(8)) + "junk\n"
                    + _line(_record(8)).replace('"arch_index": 8', '"arch_index": 9'))  # a flipped digit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(LowFiStore(path).records()) == 8
    assert [str(w.message) for w in caught] == [f"skipping 2 corrupt line(s) (line 9, 10) in the low-fidelity "
                                                f"store {path}"]


def _cli(tmp_path, *args, store=None, **run):
    """``mfkdbench ARGS`` in a fresh interpreter (``STORE``: a store file holding ``store``)."""
    path = tmp_path / "store.jsonl"
    if store is not None:
        path.write_text(store)
    return subprocess.run([sys.executable, str(REPO / "click_cli.py"), *[str(path) if a == "STORE" else a for a in args]],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, **run)


# ---- a failed command never poisons its output folder (issue 22) -------------------------------------------

@pytest.mark.parametrize("case,message", [
    ("data-dir", "cannot load"),
    ("teacher", "teacher checkpoint"),
    ("store", NOT_A_STORE),
    ("store-below-file", "which is a file"),
])
def test_live_compare_checks_everything_before_the_result_store(capsys, tmp_path, case, message):
    (tmp_path / "f").write_text("a file\n")
    (tmp_path / "notes.txt").write_text("notes\n")
    store = {"store": tmp_path / "notes.txt", "store-below-file": tmp_path / "f" / "s.jsonl"}.get(case,
                                                                                                 tmp_path / "s.jsonl")
    extra = {"data-dir": ["--train-dataset", "cifar10", "--data-dir", str(tmp_path / "none")],
             "teacher": ["--train-dataset", "digits", "--teacher", str(tmp_path / "none.pt")]}.get(
        case, ["--train-dataset", "digits"])
    out = tmp_path / "out"
    refused(capsys, ["compare", *SMALL[:3], "mfkd", *SMALL[4:], "--lowfi", "live", *extra, "--lowfi-store", str(store),
                     "--out", str(out)], message, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "notes.txt"]  # no out, no teachers, no store


# ---- no tracebacks (issue 22) --------------------------------------------------------------------------------

@pytest.mark.parametrize("where,message", [("file", "export folder"), ("below-file", "which is a file")])
def test_export_onto_a_file(capsys, tmp_path, kept, where, message):
    (tmp_path / "f").write_text("a file\n")
    out = tmp_path / "f" if where == "file" else tmp_path / "f" / "sub"
    refused(capsys, ["export", "--results", str(kept), "--out", str(out)], message, tmp_path, kept)


@pytest.mark.parametrize("name", ["figures", "summary.csv"])
def test_figures_where_an_output_is_in_the_way(capsys, tmp_path, kept, name):
    folder = _copy(kept, tmp_path)
    shutil.rmtree(folder / name) if (folder / name).is_dir() else (folder / name).unlink()
    (folder / name).write_text("a file\n") if name == "figures" else (folder / name).mkdir()
    refused(capsys, ["figures", "--results", str(folder)], "figures folder" if name == "figures" else "is a folder",
            folder)


def _flip(path, offset) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("command", ["compare", "figures", "export"])
@pytest.mark.parametrize("page", [1, 2])
def test_a_store_with_a_flipped_byte(capsys, tmp_path, kept, command, page):
    folder = _copy(kept, tmp_path)
    _flip(folder / "results.sqlite", 4096 * page)  # a b-tree page header: "database disk image is malformed"
    args = {"compare": ["compare", *SMALL, "--out", str(folder)], "figures": ["figures", "--results", str(folder)],
            "export": ["export", "--results", str(folder), "--out", str(tmp_path / "e")]}[command]
    refused(capsys, args, "is damaged or cannot be written (database disk image is malformed)")
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("address", ["not a url", "notaurl", "tcp://host:notaport"])
def test_a_dask_scheduler_that_is_no_address(capsys, tmp_path, address):
    pytest.importorskip("distributed")
    refused(capsys, ["compare", *SMALL, "--executor", "dask", "--scheduler", address, "--out", str(tmp_path / "o")],
            f"cannot reach the Dask scheduler {address!r}", tmp_path)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_stdout_full_or_closed(tmp_path, stdout):
    if stdout == "full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    run = {"stdout": open("/dev/full", "w")} if stdout == "full" else {"stdout": None, "preexec_fn": lambda: os.close(1)}
    proc = subprocess.run([sys.executable, str(REPO / "click_cli.py"), "cite"], stderr=subprocess.PIPE, text=True,
                          cwd=tmp_path, timeout=120, **run)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: cannot write")
    assert "Traceback" not in proc.stderr


# ---- read-only results are readable (issue 22) ------------------------------------------------------------

def _read_only(folder: Path, *args) -> subprocess.CompletedProcess:
    """``mfkdbench ARGS`` with ``folder`` read-only: its modes for a user, the immutable attribute for root (who
    writes whatever the modes say; SQLite then fails on it as a user does on another user's folder)."""
    command = [sys.executable, str(REPO / "click_cli.py"), *args]
    paths = [folder, *folder.rglob("*")]
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not supported here")
    else:
        for path in paths:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=300)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
        else:
            for path in paths:
                path.chmod(path.stat().st_mode | 0o200)


def test_read_only_results_are_exported_and_refused_as_outputs_in_one_line(tmp_path, kept):
    folder = _copy(kept, tmp_path)
    before = hashes(folder)
    proc = _read_only(folder, "export", "--results", str(folder), "--out", str(tmp_path / "e"))
    assert proc.returncode == 0 and "wrote" in proc.stdout and proc.stderr == "", proc.stderr
    assert (tmp_path / "e" / "runs.csv").read_text().count("\n") == 3  # a header and 2 runs
    proc = _read_only(folder, "figures", "--results", str(folder))  # its outputs go into the folder
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is not writable" in proc.stderr, proc.stderr
    assert hashes(folder) == before


# ---- silently accepted (issue 22) --------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["run", "--optimizer", "rea", "--dataset", "cifar10", "--preset", ""], "an empty value is not allowed"),
    (["run", "--optimizer", "rea@", "--dataset", "cifar10"], "'rea@' names no fidelity after '@'"),
    (["run", "--optimizer", "rea@ ", "--dataset", "cifar10"], "names no fidelity after '@'"),
    (["compare", *SMALL, "--preset", "", "--out", "KEPT"], "an empty value is not allowed"),
    (["compare", *SMALL[:3], "rea@", *SMALL[4:], "--out", "KEPT"], "names no fidelity after '@'"),
    (["compare", *SMALL, "--target-fidelity", "", "--out", "KEPT"], "an empty value is not allowed"),
    (["compare", *SMALL, "--out", ""], "an empty value is not allowed"),
    (["compare", *SMALL, "--reference", " ", "--out", "KEPT"], "an empty value is not allowed"),
    (["compare", *SMALL, "--executor", "dask", "--scheduler", "", "--out", "KEPT"], "an empty value is not allowed"),
    (["lowfi", "build", "--dataset", "digits", "--archs", "1", "--store", ""], "an empty value is not allowed"),
    (["run", "--optimizer", "mfkd", "--dataset", "cifar10", "--lowfi", "live", "--train-dataset", ""],
     "an empty value is not allowed"),
    (["export", "--results", "KEPT", "--out", ""], "an empty value is not allowed"),
    (["data", "import", ""], "an empty value is not allowed"),
    (["compare", *SMALL[:3], "random,,rea", *SMALL[4:], "--out", "KEPT"], "holds an empty name"),
    (["compare", *SMALL[:3], "random,", *SMALL[4:], "--out", "KEPT"], "holds an empty name"),  # once read as the current folder
    (["train", "0", "--dataset", "digits", "--teacher", " "], "an empty value is not allowed"),
])
def test_empty_values_are_refused(capsys, kept, args, message):
    refused(capsys, [str(kept) if a == "KEPT" else a for a in args], message, kept)


def test_python_api_takes_an_empty_preset_as_given():
    from mfkdbench.errors import UserError
    from mfkdbench.experiments.grid import make_protocol

    with pytest.raises(UserError, match="unknown preset ''"):
        make_protocol("cifar10", None, preset="")


# ---- one line where one is promised (issue 22) ---------------------------------------------------------------

def test_a_corrupt_csv_is_one_line(tmp_path, data_dir):
    import gzip

    from mfkdbench.nb201.tables import CSV_FILES

    path = tmp_path / "data" / CSV_FILES["archs"]
    path.parent.mkdir(parents=True)
    lines = gzip.decompress((data_dir / CSV_FILES["archs"]).read_bytes()).decode().splitlines()
    lines[3] += ",1,2,3"  # pandas: "Error tokenizing data. C error: Expected .. fields in line 4, saw ..\n"
    path.write_bytes(gzip.compress("\n".join(lines).encode() + b"\n"))
    proc = _cli(tmp_path, "data", "info", "--data", str(tmp_path / "data"),
                env={**os.environ, "MFKDBENCH_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is corrupt or truncated" in proc.stderr
    assert "Error tokenizing data" in proc.stderr
