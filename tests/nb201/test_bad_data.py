"""Bad data at the door: each broken table is one ``error:`` line, exit code 2, no traceback, no cache written;
the cache is keyed by content and a damaged cache is rebuilt with one warning line."""
import gzip
import os
import subprocess
import sys

import pytest

from click_cli import main
from mfkdbench.nb201.tables import CSV_FILES, FORMAT_VERSION, load_tables, save_npz


@pytest.fixture(scope="module")
def frames(data_dir):
    """Each file's lines, split into fields (no field of these files holds a comma)."""
    out = {}
    for role, rel in CSV_FILES.items():
        with gzip.open(data_dir / rel, "rt") as fh:
            out[role] = [line.split(",") for line in fh.read().splitlines()]
    return out


def write_data(root, frames, **changed):
    """A data directory with the archs file and the ``changed`` ones (``role=lines``)."""
    for role, lines in {"archs": frames["archs"], **changed}.items():
        path = root / CSV_FILES[role]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress("\n".join(",".join(f) for f in lines).encode() + b"\n", 1, mtime=0))
    return root


def cli(capsys, *args):
    """Run the CLI in this process; ``(exit code, stdout, stderr)``."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _set(lines, column, row, text):
    lines = [list(f) for f in lines]
    lines[row + 1][lines[0].index(column)] = text
    return lines


def _swap(lines, a, b):
    """Swap two column names in the header (the data stay: the columns' contents trade places)."""
    header = [b if n == a else a if n == b else n for n in lines[0]]
    return [header] + lines[1:]


def _swap_rows(lines, i, j, columns):
    lines = [list(f) for f in lines]
    for c in map(lines[0].index, columns):
        lines[i + 1][c], lines[j + 1][c] = lines[j + 1][c], lines[i + 1][c]
    return lines


def _bump(lines, column, row):
    return _set(lines, column, row, str((int(lines[row + 1][lines[0].index(column)]) + 1) % 5))


EDGES = ["arch_str", "e0", "e1", "e2", "e3", "e4", "e5"]
ARCHS_CASES = {
    "missing column": (lambda f: _swap(f, "c100_test_acc_200", "c100_test_acc"), "lacks column 'c100_test_acc_200'"),
    "text in a numeric column": (lambda f: _set(f, "c10v_val_acc_200", 5, "n/a"),
                                 "column 'c10v_val_acc_200' holds text 'n/a' where numbers are expected (line 7)"),
    "accuracy above 100": (lambda f: _set(f, "c100_val_acc_200", 3, "101.5"),
                           "column 'c100_val_acc_200' has 101.5; accuracies (percent) must be in [0, 100] (line 5)"),
    "negative accuracy": (lambda f: _set(f, "in16_val_acc_12", 9, "-1"), "'in16_val_acc_12' has -1.0"),
    "NaN report metric": (lambda f: _set(f, "in16_test_acc_200", 4, ""),
                          "column 'in16_test_acc_200' is empty where every row needs a value (line 6)"),
    "NaN search metric": (lambda f: _set(f, "c10v_val_acc_12", 0, "nan"), "'c10v_val_acc_12' is empty"),
    "zero training time": (lambda f: _set(f, "c10v_train_time_200_s", 2, "0"),
                           "'c10v_train_time_200_s' has 0.0; training times (seconds) must be positive (line 4)"),
    "negative training time": (lambda f: _set(f, "c100_train_time_200_s", 2, "-3"), "must be positive"),
    "NaN training time": (lambda f: _set(f, "in16_train_time_200_s", 2, ""), "'in16_train_time_200_s' is empty"),
    "valtest and test swapped": (lambda f: _swap(f, "c100_valtest_acc_200", "c100_test_acc_200"),
                                 "c100_valtest_acc_200 is not the mean of c100_val_acc_200 and c100_test_acc_200"),
    "accuracy and time swapped": (lambda f: _swap(f, "c10v_val_acc_200", "c10v_train_time_200_s"),
                                  "column 'c10v_val_acc_200' has"),
    "arch string disagrees with edge codes": (lambda f: _bump(f, "e3", 7), "disagrees with its edge codes e0..e5"),
    "rows out of index order": (lambda f: _swap_rows(f, 10, 11, EDGES), "not in the official NB201 index order"),
    "duplicate index": (lambda f: _set(f, "arch_index", 1, "0"), "does not hold exactly one row for each"),
    "index out of range": (lambda f: _set(f, "arch_index", 1, "20000"), "does not hold exactly one row for each"),
    "op code out of range": (lambda f: _set(f, "e0", 1, "7"), "column 'e0' has 7; op codes must be in [0, 4]"),
}


def _relabel(lines, a, b):
    col = lines[0].index("dataset")
    lines = [list(f) for f in lines]
    for f in lines[1:]:
        f[col] = {a: b, b: a}.get(f[col], f[col])
    return lines


OTHER_CASES = {
    "seed slot out of range": ("seeds", lambda f: _set(f, "seed_slot", 0, "3"), "seed slots must be in [0, 2]"),
    "negative seed slot": ("seeds", lambda f: _set(f, "seed_slot", 5, "-1"), "seed slots must be in [0, 2]"),
    "seed slot twice": ("seeds", lambda f: _set(f, "seed_slot", 1, "0"), "holds one dataset, cell and seed slot twice"),
    "seed datasets swapped": ("seeds", lambda f: _relabel(f, "cifar100", "ImageNet16-120"),
                              "datasets or columns swapped?"),
    "unknown seed dataset": ("seeds", lambda f: _set(f, "dataset", 0, "mnist"), "unknown dataset 'mnist'"),
    "seed accuracy text": ("seeds", lambda f: _set(f, "val_acc_200", 0, "x"), "'val_acc_200' holds text 'x'"),
    "curve epochs swapped": ("curves", lambda f: _swap(f, "ep11", "ep12"), "ep12 differs from c10_test_acc_12"),
    "curve accuracy NaN": ("curves", lambda f: _set(f, "ep3", 0, ""), "'ep3' is empty"),
    "KD epoch out of range": ("kd_curves", lambda f: _set(f, "epoch", 0, "13"), "epochs must be in [1, 12]"),
    "KD accuracy above 100": ("kd_curves", lambda f: _set(f, "xvalid_acc", 0, "140"), "'xvalid_acc' has 140.0"),
    "KD zero training time": ("kd_curves", lambda f: _set(f, "train_time_s", 0, "0"), "must be positive"),
}


def _refused(capsys, root, cache, message):
    code, out, err = cli(capsys, "data", "info", "--data", str(root))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: data file ") and message in err, err
    assert "Traceback" not in err
    assert not list(cache.glob("tables-*"))  # nothing cached from bad data


@pytest.mark.parametrize("case", ARCHS_CASES)
def test_bad_archs_table_is_refused_in_one_line(case, frames, tmp_path, fresh_cache, capsys):
    change, message = ARCHS_CASES[case]
    root = write_data(tmp_path / "data", {"archs": change(frames["archs"])})
    _refused(capsys, root, fresh_cache, message)


@pytest.mark.parametrize("case", OTHER_CASES)
def test_bad_seed_curve_and_kd_tables_are_refused_in_one_line(case, frames, tmp_path, fresh_cache, capsys):
    role, change, message = OTHER_CASES[case]
    root = write_data(tmp_path / "data", frames, **{role: change(frames[role])})
    _refused(capsys, root, fresh_cache, message)


def test_imported_table_with_zero_times_is_refused(tables, tmp_path, fresh_cache, capsys):
    arrays = dict(tables.arrays)
    arrays["cifar10.time_200"] = arrays["cifar10.time_200"].copy()
    arrays["cifar10.time_200"][42] = 0.0
    save_npz(type(tables)(arrays, {**tables.meta, "format": 1}), tmp_path / "t.npz")
    code, out, err = cli(capsys, "data", "info", "--data", str(tmp_path / "t.npz"))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: data column cifar10.time_200 has zero, negative or missing training times")


def test_file_edited_in_place_with_same_size_and_mtime_is_noticed(frames, tmp_path, fresh_cache):
    root = write_data(tmp_path / "data", frames)
    path = root / CSV_FILES["archs"]
    assert load_tables(str(root)).get("cifar100", "test_acc_200")[9930] == 73.513333
    before = path.stat()
    for value in (f"73.5{d:04d}" for d in range(10000)):  # the first edit that compresses to the same size
        raw = gzip.compress("\n".join(",".join(f) for f in _set(frames["archs"], "c100_test_acc_200", 9930, value))
                            .encode() + b"\n", 1, mtime=0)
        if len(raw) == before.st_size:
            break
    path.write_bytes(raw)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert load_tables(str(root)).get("cifar100", "test_acc_200")[9930] == float(value)
    assert len(list(fresh_cache.glob("tables-*.npz"))) == 2


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "empty", "directory"])
def test_damaged_cache_is_rebuilt_with_one_warning_line(damage, data_dir, fresh_cache):
    checksum = load_tables(str(data_dir)).meta["checksum"]
    path = fresh_cache / f"tables-{checksum[:20]}-v{FORMAT_VERSION}.npz"
    raw = path.read_bytes()
    if damage == "flipped byte":
        path.write_bytes(raw[:len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 0xFF]) + raw[len(raw) // 2 + 1:])
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
        path.mkdir()
    done = subprocess.run([sys.executable, "-m", "click_cli", "data", "info", "--data", str(data_dir)],
                          capture_output=True, text=True, env=dict(os.environ, MFKDBENCH_CACHE=str(fresh_cache)))
    assert done.returncode == 0 and "optimum:    73.5133 test accuracy" in done.stdout
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"warning: table file {path} is unreadable, corrupt") and lines[0].endswith("; rebuilding it")
    assert "Traceback" not in done.stderr
    if damage == "directory":  # cannot be replaced: the tables are used from memory, said in a second line
        assert len(lines) == 2 and lines[1].startswith(f"warning: could not write the table cache {path}")
    else:
        assert len(lines) == 1 and load_tables(str(data_dir)).meta["checksum"] == checksum  # rebuilt, reads back
