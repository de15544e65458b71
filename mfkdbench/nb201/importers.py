"""Convert the official NAS-Bench-201 / NATS-Bench (topology) files into :class:`~mfkdbench.nb201.tables.Tables`.

Three inputs are recognised by their content:

* ``NAS-Bench-201-v1_[01]-*.pth`` (torch file; read with ``torch.load`` and the
  PyPI package ``nas-bench-201``: ``'less'`` results are the 12-epoch schedule
  ``hp='12'``, ``'full'`` the 200-epoch schedule ``hp='200'``);
* the NATS-Bench tss archive directory ``NATS-tss-v1_0-3ffb9-simple`` (one
  ``.pickle.pbz2`` per architecture plus ``meta.pickle.pbz2``; read one
  architecture at a time with the PyPI package ``nats-bench``, small memory);
* the single-file ``NATS-tss-v1_0-3ffb9-simple.pickle.pbz2`` (loaded whole).

Every value is read through the packages' own ``ArchResults`` methods
(``get_metrics``, ``get_compute_costs``), with NB201's split conventions (see
:mod:`mfkdbench.nb201.benchmark`). Cells missing from a partial file, and results a
file lacks (``v1_0`` has no 12-epoch runs except on ``cifar10-valid``), are NaN;
a metric missing for every cell is left out. The ``.pth`` must be loaded
whole: it needs the memory of one ``torch.load`` of the file (tens of GB for
``v1_1``); the NATS archive directory does not. All three formats are pickles:
import files from a source you trust.
"""
from __future__ import annotations

import os
import pickle
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import N_ARCHS, Arch
from mfkdbench.nb201.tables import DATASETS, FORMAT_VERSION, Tables, content_checksum, _sha256, cache_dir, save_npz

_NATS_EXT = ".pickle.pbz2"
#: tables dataset -> (NB201 dataset of the search metric, of the report metric)
_NB201_DATASETS = {
    "cifar10": ("cifar10-valid", "cifar10"),
    "cifar100": ("cifar100", "cifar100"),
    "imagenet16-120": ("ImageNet16-120", "ImageNet16-120"),
}
#: tables dataset -> (split of the search metric, split of the report metric)
_SPLITS = {"cifar10": ("x-valid", "ori-test"), "cifar100": ("x-valid", "x-test"), "imagenet16-120": ("x-valid", "x-test")}
_N_SEEDS, _CURVE_EPOCHS = 3, 12
#: module -> PyPI package that reads the official files
_READERS = {"torch": "torch", "nas_201_api": "nas-bench-201", "nats_bench": "nats-bench"}
#: how the packages signal a result the file does not hold
_ABSENT = (KeyError, AssertionError, ValueError)


def import_official(path: str | os.PathLike) -> Path:
    """Convert an official NB201 ``.pth`` or NATS-Bench tss archive into ``cache_dir()/imported/<name>.npz``.

    The new table becomes the default data source (see :func:`mfkdbench.nb201.tables.load_tables`).
    """
    src = Path(path).expanduser()
    if not src.exists():
        raise UserError(f"{src} does not exist")
    kind, read = _detect(src)
    with _reading(src):
        meta_archs, indices, load = read(src)
        index_codes = _index_codes(meta_archs, src)
        arrays = _convert(indices, load)
    checksum = content_checksum([p for p in src.iterdir() if p.is_file()]) if src.is_dir() else _sha256(src)
    tables = Tables({"index_codes": index_codes, **arrays}, {
        "source": f"{kind} {src.name} ({len(indices)} of {N_ARCHS} archs)",
        "format": FORMAT_VERSION, "checksum": checksum,
    }).validate()
    out = cache_dir() / "imported" / f"{_stem(src)}.npz"
    try:
        save_npz(tables, out)
    except OSError as exc:
        raise UserError(f"could not write {out}: {exc}") from None
    return out


# ---- recognising and reading the files -------------------------------------------

def _detect(src: Path):
    """``(kind, reader)`` from the content of ``src``."""
    if src.is_dir():
        if (src / f"meta{_NATS_EXT}").is_file():
            return "NATS-Bench tss archive", _read_nats_archive
        raise UserError(f"{src} is a directory without meta{_NATS_EXT}: not a NATS-Bench tss archive")
    with open(src, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"BZh"):
        return "NATS-Bench tss file", _read_nats_file
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch zip format / legacy torch pickle
        return "NAS-Bench-201 file", _read_nb201_pth
    raise UserError(f"{src} is neither an official NB201 .pth file nor a NATS-Bench tss archive "
                    f"(directory or {_NATS_EXT} file)")


@contextmanager
def _reading(src: Path):
    """Turn any failure while reading a third-party pickle into one :class:`UserError` line.

    Unpickling a truncated or foreign file can raise almost any exception type,
    hence the broad catch.
    """
    try:
        yield
    except UserError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name not in _READERS:
            raise _corrupt(src, exc) from None
        raise UserError(f"reading {src} needs the package {_READERS[exc.name]}: "
                        "pip install 'mfkdbench[import]' (and torch for .pth files)") from None
    except MemoryError:
        raise UserError(f"not enough memory to load {src}; the NATS-Bench archive directory "
                        "(NATS-tss-v1_0-3ffb9-simple) imports one architecture at a time") from None
    except Exception as exc:  # noqa: BLE001 - see docstring
        raise _corrupt(src, exc) from None


def _corrupt(src: Path, exc: Exception) -> UserError:
    first = (str(exc).strip().splitlines() or [""])[0]
    detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return UserError(f"{src} is corrupt, truncated or not an official benchmark file ({detail})")


def _check_layout(raw, src: Path) -> None:
    if not isinstance(raw, dict) or not {"meta_archs", "arch2infos"} <= raw.keys():
        raise UserError(f"{src} lacks 'meta_archs' and 'arch2infos': not an NB201 / NATS-Bench benchmark file")


def _read_nb201_pth(src: Path):
    """``(meta_archs, indices, load)``; ``load(index)`` gives ``{hp: ArchResults}`` and frees the raw cell."""
    from nas_201_api.api_utils import ArchResults

    raw = _torch_load(src)
    _check_layout(raw, src)
    infos = raw["arch2infos"]

    def load(index):
        info = infos.pop(index)
        return {"12": ArchResults.create_from_state_dict(info["less"]),
                "200": ArchResults.create_from_state_dict(info["full"])}

    return raw["meta_archs"], sorted(infos), load


def _torch_load(src: Path):
    """``torch.load`` allowing plain data and numpy scalars/arrays only; full unpickling if the file needs it."""
    import torch

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 1.26
        from numpy.core import multiarray
    allowed = [np.dtype, np.ndarray, *(getattr(np.dtypes, n) for n in getattr(np.dtypes, "__all__", ()))]
    for fn in (multiarray.scalar, multiarray._reconstruct):
        allowed += [(fn, f"numpy.core.multiarray.{fn.__name__}"), (fn, f"numpy._core.multiarray.{fn.__name__}")]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise
        reason = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), "")
    warnings.warn(f"{src} holds Python objects beyond plain data ({reason[:160]}); "
                  "loading it with full unpickling, as the NB201 API does", stacklevel=3)
    return torch.load(src, map_location="cpu", weights_only=False)


def _read_nats_file(src: Path):
    """The single-file NATS-Bench tss benchmark, loaded whole by ``nats_bench``."""
    import nats_bench

    api = nats_bench.create(str(src), "tss", fast_mode=False, verbose=False)
    return api.meta_archs, sorted(api.evaluated_indexes), api.arch2infos_dict.pop


def _read_nats_archive(src: Path):
    """The NATS-Bench tss archive directory, read one architecture at a time (``fast_mode``)."""
    import nats_bench

    api = nats_bench.create(str(src), "tss", fast_mode=True, verbose=False)
    stems = (name[: -len(_NATS_EXT)] for name in os.listdir(src) if name.endswith(_NATS_EXT))

    def load(index):
        api.reload(str(src), index)
        return api.arch2infos_dict.pop(index)

    return api.meta_archs, sorted({int(s) for s in stems if s.isdigit()}), load


def _index_codes(meta_archs, src: Path) -> np.ndarray:
    """Cell codes in the file's index order."""
    if len(meta_archs) != N_ARCHS:
        raise UserError(f"{src} lists {len(meta_archs)} architectures, expected the {N_ARCHS} NB201 cells")
    try:
        return np.array([Arch.parse(s).code for s in meta_archs], dtype=np.int64)
    except (UserError, AttributeError):
        raise UserError(f"{src} does not list NB201 cell strings (is it the NATS-Bench size search space?)") from None


def _stem(src: Path) -> str:
    name = src.name
    for ext in (_NATS_EXT, ".pth"):
        name = name.removesuffix(ext)
    return name or "imported"


# ---- values ---------------------------------------------------------------------

def _metric(res, dataset: str, setname: str, key: str = "accuracy", iepoch=None, is_random=False) -> float:
    """One value of ``ArchResults.get_metrics`` (mean over seeds by default); NaN where absent."""
    if res is None:
        return np.nan
    try:
        value = res.get_metrics(dataset, setname, iepoch=iepoch, is_random=is_random)[key]
    except _ABSENT:
        return np.nan
    return np.nan if value is None else float(value)


def _cost(res, dataset: str, key: str) -> float:
    """One value of ``ArchResults.get_compute_costs``; NaN where absent."""
    if res is None:
        return np.nan
    try:
        value = res.get_compute_costs(dataset)[key]
    except _ABSENT:
        return np.nan
    return np.nan if value is None else float(value)


def _seeds(res, dataset: str) -> list:
    return res.get_dataset_seeds(dataset)[:_N_SEEDS] if res is not None and dataset in res.get_dataset_names() else []


def _cell_values(hp2res: dict) -> dict[str, object]:
    """Every table metric of one cell, keyed ``<dataset>.<metric>``."""
    full, less = hp2res.get("200"), hp2res.get("12")
    out: dict[str, object] = {}
    for ds in DATASETS:
        (search, report), (val, test) = _NB201_DATASETS[ds], _SPLITS[ds]
        out[f"{ds}.val_acc_200"] = _metric(full, search, val)
        out[f"{ds}.val_acc_200_seeds"] = [_metric(full, search, val, is_random=s) for s in _seeds(full, search)]
        out[f"{ds}.test_acc_200"] = _metric(full, report, test)
        # 'train-all-time' of get_more_info: the per-epoch train times summed over the whole schedule
        out[f"{ds}.time_200"] = _metric(full, search, "train", key="all_time")
        out[f"{ds}.val_acc_12"] = _metric(less, search, val)
        out[f"{ds}.test_acc_12"] = _metric(less, report, test)
        out[f"{ds}.params_mb"] = _cost(full, search, "params")
        out[f"{ds}.flops_m"] = _cost(full, report, "flops")
        out[f"{ds}.latency_s"] = _cost(full, search, "latency")
    out["cifar10.curve_12"] = [_metric(less, "cifar10", "ori-test", iepoch=e) for e in range(_CURVE_EPOCHS)]
    return out


def _convert(indices: list[int], load) -> dict[str, np.ndarray]:
    """Columns over all NB201 indices from ``load(index) -> {hp: ArchResults}`` for each evaluated index."""
    from tqdm import tqdm

    arrays: dict[str, np.ndarray] = {}
    for index in tqdm(indices, desc="importing", unit="arch", disable=None, leave=False):
        if not 0 <= int(index) < N_ARCHS:
            raise UserError(f"architecture index {index} out of range 0..{N_ARCHS - 1}")
        for key, value in _cell_values(load(index)).items():
            if key not in arrays:
                width = {"val_acc_200_seeds": _N_SEEDS, "curve_12": _CURVE_EPOCHS}.get(key.split(".", 1)[1])
                arrays[key] = np.full((N_ARCHS, width) if width else N_ARCHS, np.nan)
            if np.ndim(value):
                arrays[key][index, : len(value)] = value
            else:
                arrays[key][index] = value
    return {k: v for k, v in arrays.items() if not np.isnan(v).all()}
