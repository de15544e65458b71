"""The shipped tables: the default source, equal to the CSVs they are built from, rebuilt bit for bit."""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.nb201.tablefile import encode, layout, mapped_columns, read_columns, write_columns
from mfkdbench.nb201.tables import MANIFEST, load_tables, shipped_dir, shipped_manifest, verify_shipped

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import build_tables  # noqa: E402


def test_shipped_tables_are_the_default_and_equal_the_csvs(tables, fresh_cache, monkeypatch):
    monkeypatch.delenv("MFKDBENCH_DATA")
    shipped = load_tables()
    assert shipped.meta["origin"] == "shipped" and shipped_dir() == REPO / "tables"
    assert sorted(shipped.arrays) == sorted(tables.arrays)
    for key, values in tables.arrays.items():
        assert np.array_equal(shipped.arrays[key], values, equal_nan=True), key
    assert shipped.meta["checksum"] == tables.meta["checksum"]  # result folders accept either source
    assert shipped.get("cifar100", "test_acc_200")[9930] == 73.513333
    assert not fresh_cache.exists()


def test_build_reproduces_the_shipped_files_bit_for_bit(data_dir, tmp_path):
    out = tmp_path / "tables"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "build_tables.py"), str(data_dir), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = REPO / "tables"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in shipped.iterdir() if p.suffix in (".npz", ".json"))
    assert len(names) == 11
    for name in names:
        assert (out / name).read_bytes() == (shipped / name).read_bytes(), name


def test_manifest_lists_every_column_and_its_source(data_dir):
    folder = shipped_dir()
    files = shipped_manifest(folder)["files"]
    assert verify_shipped(folder) == "10 files match their manifest checksums"
    archs = files["nb201_archs"]
    assert archs["rows"] == 15625 and len(archs["columns"]) == 47 and archs["source"] == "nb201/nb201_archs.csv.gz"
    assert files["nb201_seeds"]["rows"] == 118257 and files["nb201_kd_nst_c100_curves"]["rows"] == 2880
    assert set(read_columns(folder / "nb201_latency_ms_help.npz")) == set(files["nb201_latency_ms_help"]["columns"])
    kd = read_columns(folder / "nb201_kd_nst_c100_curves.npz", ["arch_index", "source", "xvalid_acc"])
    assert set(kd["source"]) == {"pth+log", "log"} and np.isnan(kd["xvalid_acc"][kd["source"] == "log"]).all()


def test_a_damaged_shipped_file_fails_verification(tmp_path):
    folder = tmp_path / "shipped"
    folder.mkdir()
    for p in shipped_dir().iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    raw = bytearray((folder / "nb201_seeds.npz").read_bytes())
    raw[len(raw) // 2] ^= 1
    (folder / "nb201_seeds.npz").write_bytes(bytes(raw))
    with pytest.raises(UserError, match="nb201_seeds.npz does not match its manifest checksum"):
        verify_shipped(folder)


def _tiny_csv(path: Path) -> None:
    with gzip.open(path, "wt") as fh:
        fh.write("arch_index,name,acc,time\n0,a,91.606667,1444.2186\n1,b,,0.1\n2,a,1e-05,3\n3,a,7,4\n")


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_catches_a_changed_value(tmp_path, compress):
    source = tmp_path / "tiny.csv.gz"
    _tiny_csv(source)
    columns = {"arch_index": np.arange(4), "name": np.array(["a", "b", "a", "a"], dtype=object),
               "acc": np.array([91.606667, np.nan, 1e-05, 7.0]), "time": np.array([1444.2186, 0.1, 3, 4])}
    members = {n + s: a for n, v in columns.items() for s, a in encode(v).items()}
    assert set(members) == {"arch_index", "name", "acc", "time"}  # 4 rows, 2 categories: plain text
    write_columns(tmp_path / "ok.npz", members, compress)
    assert build_tables.check_round_trip(source, tmp_path / "ok.npz") == 4
    members["acc"] = np.array([91.606667, np.nan, 1e-05, np.float32(7.1)], dtype=np.float64)
    write_columns(tmp_path / "bad.npz", members, compress)
    with pytest.raises(UserError, match="column 'acc' differs"):
        build_tables.check_round_trip(source, tmp_path / "bad.npz")


def test_columns_encode_compactly_and_map_back(tmp_path):
    names = np.array(["cifar100", "cifar10-valid"] * 50, dtype=object)
    members = {"arch_index": np.arange(100) * 150, "dataset": names, "val": np.linspace(0, 1, 100)}
    encoded = {n + s: a for n, v in members.items() for s, a in encode(v).items()}
    assert encoded["arch_index"].dtype == np.int16 and encoded["dataset@codes"].dtype == np.uint8
    assert list(encoded["dataset@categories"]) == [b"cifar10-valid", b"cifar100"]
    path = tmp_path / "t.npz"
    write_columns(path, encoded, compress=False)
    mapped = mapped_columns(path, layout(path), ["arch_index", "dataset", "val"])
    assert np.array_equal(mapped["arch_index"], members["arch_index"]) and list(mapped["dataset"]) == list(names)
    assert np.array_equal(mapped["val"], members["val"]) and not mapped["val"].flags.writeable
    with np.load(path) as npz:  # any npz reader opens it
        assert np.array_equal(npz["val"], members["val"])


def test_the_wheel_lists_every_package_and_ships_the_tables():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "mfkdbench").rglob("__init__.py")}
    found |= {"mfkdbench." + ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "baselines").rglob("__init__.py")}
    assert set(config["packages"]) == found | {"mfkdbench.shipped"}
    assert config["package-dir"] == {"mfkdbench.shipped": "tables", "mfkdbench.baselines": "baselines"}
    assert (REPO / "mfkdbench" / "baselines").resolve() == REPO / "baselines"  # the checkout's link
    assert not (REPO / "tables" / "__init__.py").exists()  # never a top-level 'tables' package (PyTables)
    assert MANIFEST in config["package-data"]["mfkdbench.shipped"]
    manifest = json.loads((REPO / "tables" / MANIFEST).read_text())
    assert sum(f["bytes"] for f in manifest["files"].values()) < 16e6


def test_kd_arrays_match_the_authors_final_table(tables):
    """The per-epoch runs, folded into the tables, agree with the authors' separate epoch-12 file."""
    final = read_columns(shipped_dir() / "nb201_kd_nst_c100_final.npz")
    cells = final["arch_index"]
    assert np.array_equal(cells, np.arange(240))
    assert np.array_equal(tables.get("cifar100", "nst12_val")[cells], final["nst12_xvalid_acc"], equal_nan=True)
    assert np.array_equal(tables.get("cifar100", "nst12_test")[cells], final["nst12_xtest_acc"], equal_nan=True)
    assert np.allclose(tables.get("cifar100", "nst12_time")[cells], final["nst12_train_time_s"], equal_nan=True, rtol=1e-6)
    assert np.isnan(tables.get("cifar100", "nst12_time")[cells]).sum() == 12
    assert np.isnan(tables.get("cifar100", "nst12_test")[240:]).all()
