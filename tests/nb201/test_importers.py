"""Importers of the official NB201 .pth and NATS-Bench tss files, on small files in the official format.

The files are built with the packages' own ``ArchResults`` / ``ResultsCount``
classes: all 15,625 cells in ``meta_archs`` (official order) and a few
evaluated cells whose numbers encode dataset, split, seed, epoch and cell, so
every value read back tells where it came from.
"""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.nb201.importers import import_official
from mfkdbench.nb201.space import Arch
from mfkdbench.nb201.tables import imported_tables, load_npz

# cell index -> seeds of its 200-epoch runs; ImageNet16-120 is missing for cell 6111
CELLS = {0: (777, 888, 999), 1: (777, 888), 6111: (777, 888, 999), 9930: (888, 999)}
NO_IN16 = 6111
SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
        "cifar100": ("x-valid", "x-test", "ori-test"), "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
BASE = {"cifar10-valid": 80.0, "cifar10": 85.0, "cifar100": 60.0, "ImageNet16-120": 30.0}
SHIFT = {"x-valid": 0.0, "x-test": 2.0, "ori-test": 4.0, "train": 6.0}


def acc(cell, dataset, setname, seed, epoch, epochs):
    """The made-up accuracy of a run after ``epoch`` (0-based)."""
    return BASE[dataset] + SHIFT[setname] + seed / 1000 + epoch / epochs + cell / 100000


def epoch_time(cell, dataset, seed):
    return 10.0 + seed / 100 + cell / 1000 + len(dataset)


def params(cell, dataset):
    return np.float64(0.1 + cell / 10000 + len(dataset) / 100)  # NB201 stored numpy scalars here


def flops(cell, dataset):
    return 15.0 + cell / 1000 + len(dataset)


def less_seeds(dataset):
    """Seeds of the 12-epoch runs, as in NB201 v1_1: two on cifar10-valid, one elsewhere."""
    return (777, 888) if dataset == "cifar10-valid" else (777,)


def arch_results(api, cell, arch_str, epochs, seeds_of):
    """An ``ArchResults`` of package ``api`` for one cell and one schedule."""
    out = api.ArchResults(cell, arch_str)
    for dataset, sets in SETS.items():
        for seed in seeds_of(dataset):
            run = api.ResultsCount(dataset, None, None, None, params(cell, dataset), flops(cell, dataset),
                                   {"arch_str": arch_str}, seed, epochs, [0.01 + cell / 1e6])
            ep = range(epochs)
            run.update_train_info({e: acc(cell, dataset, "train", seed, e, epochs) for e in ep}, None,
                                  {e: 1.0 for e in ep}, {e: epoch_time(cell, dataset, seed) for e in ep})
            keys = [(f"{s}@{e}", s, e) for s in sets for e in ep]
            run.update_eval({k: acc(cell, dataset, s, seed, e, epochs) for k, s, e in keys},
                            {k: 1.0 for k, _, _ in keys}, {k: 0.5 for k, _, _ in keys})
            out.update(dataset, seed, run)
    return out


def cell_states(api, cell, arch_str):
    """``{'12': state, '200': state}``: 12-epoch runs with one seed (two on cifar10-valid), 200-epoch per CELLS."""
    def full_seeds(dataset):
        return () if dataset == "ImageNet16-120" and cell == NO_IN16 else CELLS[cell]

    return {"12": arch_results(api, cell, arch_str, 12, less_seeds).state_dict(),
            "200": arch_results(api, cell, arch_str, 200, full_seeds).state_dict()}


@pytest.fixture(scope="module")
def meta_archs(tables):
    return [str(Arch.from_code(c)) for c in tables.index_codes]


@pytest.fixture(scope="module")
def nb201_pth(tmp_path_factory, meta_archs):
    torch = pytest.importorskip("torch")
    from nas_201_api import api_utils

    infos = {}
    for cell in CELLS:
        states = cell_states(api_utils, cell, meta_archs[cell])
        infos[cell] = {"less": states["12"], "full": states["200"]}
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-v1_1-096897.pth"
    raw = {"meta_archs": meta_archs, "arch2infos": infos, "evaluated_indexes": sorted(CELLS)}
    torch.save(raw, path, _use_new_zipfile_serialization=False)  # the official files predate the zip format
    return path


@pytest.fixture(scope="module")
def nats_archive(tmp_path_factory, meta_archs):
    from nats_bench import api_utils, pickle_save

    root = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    root.mkdir()
    pickle_save({"meta_archs": meta_archs, "arch2infos": {}, "evaluated_indexes": []}, root / "meta.pickle")
    for cell in CELLS:
        pickle_save(cell_states(api_utils, cell, meta_archs[cell]), root / f"{cell:06d}.pickle")
    return root


def check_imported(path, tables):
    """The imported arrays equal the numbers written into the file."""
    imp = load_npz(path)
    assert np.array_equal(imp.index_codes, tables.index_codes)
    missing = np.setdiff1d(np.arange(15625), list(CELLS))
    for ds, (search, report), (val, test) in (
        ("cifar10", ("cifar10-valid", "cifar10"), ("x-valid", "ori-test")),
        ("cifar100", ("cifar100", "cifar100"), ("x-valid", "x-test")),
        ("imagenet16-120", ("ImageNet16-120", "ImageNet16-120"), ("x-valid", "x-test")),
    ):
        assert np.isnan(imp.get(ds, "val_acc_200")[missing]).all()
        for cell, seeds in CELLS.items():
            row = {m: imp.get(ds, m)[cell] for m in imp.metrics(ds)}
            if ds == "imagenet16-120" and cell == NO_IN16:
                assert np.isnan(row["val_acc_200"]) and np.isnan(row["val_acc_200_seeds"]).all()
                assert row["val_acc_12"] == pytest.approx(acc(cell, search, val, 777, 11, 12))
                continue
            per_seed = [acc(cell, search, val, s, 199, 200) for s in seeds]
            assert row["val_acc_200"] == pytest.approx(np.mean(per_seed), abs=1e-12)
            assert row["val_acc_200_seeds"][: len(seeds)] == pytest.approx(per_seed, abs=1e-12)
            assert np.isnan(row["val_acc_200_seeds"][len(seeds):]).all()
            assert row["test_acc_200"] == pytest.approx(np.mean([acc(cell, report, test, s, 199, 200) for s in seeds]))
            assert row["time_200"] == pytest.approx(200 * np.mean([epoch_time(cell, search, s) for s in seeds]))
            assert row["val_acc_12"] == pytest.approx(np.mean([acc(cell, search, val, s, 11, 12) for s in less_seeds(search)]))
            assert row["test_acc_12"] == pytest.approx(acc(cell, report, test, 777, 11, 12))
            assert row["params_mb"] == pytest.approx(params(cell, search))
            assert row["flops_m"] == pytest.approx(flops(cell, report))
            assert row["latency_s"] == pytest.approx(0.01 + cell / 1e6)
    curve = imp.get("cifar10", "curve_12")
    assert curve.shape == (15625, 12)
    assert curve[9930] == pytest.approx([acc(9930, "cifar10", "ori-test", 777, e, 12) for e in range(12)])
    assert not imp.has("cifar100", "curve_12")
    return imp


def test_nb201_pth(nb201_pth, tables, fresh_cache):
    out = import_official(nb201_pth)
    assert out == fresh_cache / "imported" / "NAS-Bench-201-v1_1-096897.npz"
    imp = check_imported(out, tables)
    assert imp.meta["source"] == "NAS-Bench-201 file NAS-Bench-201-v1_1-096897.pth (4 of 15625 archs)"
    assert imp.meta["checksum"] == hashlib.sha256(nb201_pth.read_bytes()).hexdigest()


def test_pth_with_other_python_objects_needs_full_unpickling(nb201_pth, tmp_path, tables, fresh_cache):
    import argparse

    import torch

    raw = torch.load(nb201_pth, weights_only=False)
    raw["args"] = argparse.Namespace(seed=1)  # not plain data: the weights-only load refuses it
    path = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    torch.save(raw, path)
    with pytest.warns(UserWarning, match="argparse.Namespace.*full unpickling"):
        out = import_official(path)
    check_imported(out, tables)


def test_nats_archive_directory(nats_archive, tables, fresh_cache):
    out = import_official(nats_archive)
    assert out.name == "NATS-tss-v1_0-3ffb9-simple.npz"
    assert "NATS-Bench tss archive" in check_imported(out, tables).meta["source"]


def test_nats_single_file(tmp_path, meta_archs, tables, fresh_cache):
    from nats_bench import api_utils, pickle_save

    infos = {cell: cell_states(api_utils, cell, meta_archs[cell]) for cell in CELLS}
    pickle_save({"meta_archs": meta_archs, "arch2infos": infos, "evaluated_indexes": sorted(CELLS)},
                tmp_path / "NATS-tss-v1_0-3ffb9-simple.pickle")
    out = import_official(tmp_path / "NATS-tss-v1_0-3ffb9-simple.pickle.pbz2")
    assert "NATS-Bench tss file" in check_imported(out, tables).meta["source"]


def _cli(*args, cache):
    env = {k: v for k, v in os.environ.items() if k != "MFKDBENCH_DATA"}
    env["MFKDBENCH_CACHE"] = str(cache)
    return subprocess.run([sys.executable, "-c", "from click_cli import main; main()", *args],
                          capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_cli_import_becomes_the_default_source(nats_archive, tmp_path):
    cache = tmp_path / "cache"
    done = _cli("data", "import", str(nats_archive), cache=cache)
    assert done.returncode == 0, done.stderr
    assert "NATS-tss-v1_0-3ffb9-simple.npz" in done.stdout
    info = _cli("data", "info", cache=cache)
    assert info.returncode == 0, info.stderr
    assert "source:    NATS-Bench tss archive NATS-tss-v1_0-3ffb9-simple (4 of 15625 archs)" in info.stdout


def test_bad_inputs_are_one_line_user_errors(tmp_path, nb201_pth, nats_archive, data_dir, fresh_cache, monkeypatch):
    torch = pytest.importorskip("torch")
    cut = tmp_path / "cut.pth"
    cut.write_bytes(nb201_pth.read_bytes()[: nb201_pth.stat().st_size // 2])
    cut_nats = tmp_path / "cut.pickle.pbz2"
    cut_nats.write_bytes((nats_archive / "meta.pickle.pbz2").read_bytes()[:5000])
    weights = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(2)}, weights)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    cases = {
        tmp_path / "nope.pth": "does not exist",
        data_dir / "nb201" / "nb201_archs.csv.gz": "neither an official NB201",
        cut: "corrupt, truncated",
        cut_nats: "corrupt, truncated",
        weights: "lacks 'meta_archs'",
        empty_dir: "without meta.pickle.pbz2",
    }
    for path, message in cases.items():
        with pytest.raises(UserError, match=message) as err:
            import_official(path)
        assert "\n" not in str(err.value)
    monkeypatch.setitem(sys.modules, "nats_bench", None)
    with pytest.raises(UserError, match="needs the package nats-bench"):
        import_official(nats_archive)
    assert imported_tables() == []
    done = _cli("data", "import", str(cut), cache=fresh_cache)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
