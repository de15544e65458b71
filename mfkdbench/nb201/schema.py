"""The schema of the compact NB201 CSVs, checked when they are converted (one ``UserError`` line per problem).

A hand-written check rather than pandera: the rules are a dozen range,
completeness and cross-column checks over four files, pandera would add
several packages to the core install and some import time to every
conversion, and its reports are multi-line tables that would have to be cut
down to the one ``error:`` line the CLI prints anyway.

Checked: required columns, text in a numeric column, indices, seed slots and
epochs in range and unique, accuracies in [0, 100], search and report metrics
complete, training times positive, arch strings equal to the edge codes
``e0..e5``, the rows' cells in the official NB201 index order, and the
relations that catch swapped columns: ori-test is the mean of x-valid and
x-test, the per-seed runs average to the per-cell value, the last epoch of the
12-epoch curve is the 12-epoch test accuracy.
"""
from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import N_ARCHS, N_OPS, Arch, ops_to_codes

Columns = dict[str, np.ndarray]
#: SHA-256 of the official index order (the cell code of each NB201 index, int64 little-endian)
OFFICIAL_ORDER_SHA256 = "4e228f05f95b0dede279243cb19a438986a80665a1ac7bb77b4d10c0638f370a"
#: dataset setting -> (column prefix of the search metric, of the report metric)
PREFIXES = {"cifar10": ("c10v", "c10"), "cifar100": ("c100", "c100"), "imagenet16-120": ("in16", "in16")}
SEED_DATASETS = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
EDGE_COLUMNS = tuple(f"e{e}" for e in range(6))


def archs_columns() -> dict[str, dict[str, str]]:
    """Per dataset: table metric -> column of ``nb201_archs.csv.gz``."""
    return {ds: {"val_acc_200": f"{train}_val_acc_200", "test_acc_200": f"{report}_test_acc_200",
                 "time_200": f"{train}_train_time_200_s", "val_acc_12": f"{train}_val_acc_12",
                 "test_acc_12": f"{report}_test_acc_12", "params_mb": f"{train}_params_mb",
                 "flops_m": f"{report}_flops_m", "latency_s": f"{train}_latency_s"}
            for ds, (train, report) in PREFIXES.items()}


def training_free_columns() -> dict[str, dict[str, str]]:
    """Per dataset: training-free score -> column of ``nb201_archs.csv.gz``, read where present (NASWOT was
    measured on CIFAR-10 images only, so every dataset reads the one column)."""
    return {ds: {"naswot": "naswot_score", "zen": f"zen_{report}"} for ds, (_, report) in PREFIXES.items()}


class _File:
    """Checks on the columns of one file; every failure is one line naming the file, column and line."""

    def __init__(self, columns: Columns, path: Path):
        self.columns, self.path = columns, path

    def fail(self, message: str, row: int | None = None):
        where = f" (line {row + 2})" if row is not None else ""
        raise UserError(f"data file {self.path}: {message}{where}")

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.columns]
        if missing:
            self.fail(f"lacks column {missing[0]!r}; is it the compact NB201 CSV format?")

    def numbers(self, name: str) -> np.ndarray:
        values = self.columns[name]
        if values.dtype.kind not in "iuf":
            for row, value in enumerate(values):
                try:
                    float(value)
                except (TypeError, ValueError):
                    self.fail(f"column {name!r} holds text {str(value)[:30]!r} where numbers are expected", row)
            values = values.astype(np.float64)
        return values

    def check(self, name: str, low: float | None = None, high: float | None = None, complete: bool = False,
              positive: bool = False, integer: bool = False, what: str = "values") -> np.ndarray:
        values = self.numbers(name)
        nan = np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), bool)
        if complete and nan.any():
            self.fail(f"column {name!r} is empty where every row needs a value", int(np.argmax(nan)))
        finite = values[~nan]
        bad = np.zeros(len(finite), bool)
        if low is not None:
            bad |= finite < low
        if high is not None:
            bad |= finite > high
        if positive:
            bad |= ~(finite > 0)
        if integer:
            bad |= finite != np.round(finite)
        if bad.any():
            row = int(np.flatnonzero(~nan)[np.argmax(bad)])
            rule = "positive" if positive else f"in [{low}, {high}]" if high is not None else f">= {low}"
            self.fail(f"column {name!r} has {values[row].item()}; {what} must be {rule}", row)
        return values

    def accuracies(self, names, complete: bool = False) -> None:
        for name in names:
            if name in self.columns:
                self.check(name, 0, 100, complete=complete, what="accuracies (percent)")

    def unique(self, key: np.ndarray, what: str) -> None:
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = np.flatnonzero(key == key[first[np.argmax(counts > 1)]])[1]
            self.fail(f"holds {what} twice", int(dup))


def check_archs(columns: Columns, path: Path) -> np.ndarray:
    """Check ``nb201_archs.csv.gz`` (rows already in index order); the cell code of each index."""
    f = _File(columns, path)
    metrics = archs_columns()
    f.require("arch_index", "arch_str", *EDGE_COLUMNS, *(c for cols in metrics.values() for c in cols.values()))
    ops = np.stack([f.check(e, 0, N_OPS - 1, complete=True, integer=True, what="op codes") for e in EDGE_COLUMNS], 1)
    codes = ops_to_codes(ops.astype(np.int64))
    expected = _arch_strings()[codes]
    strings = columns["arch_str"].astype(str)
    wrong = strings != expected
    if wrong.any():
        row = int(np.argmax(wrong))
        f.fail(f"arch_str {str(strings[row])[:60]!r} disagrees with its edge codes e0..e5 ({expected[row]})", row)
    if hashlib.sha256(codes.astype("<i8").tobytes()).hexdigest() != OFFICIAL_ORDER_SHA256:
        f.fail("the cells are not in the official NB201 index order (rows moved, or arch_index renumbered)")
    for ds, cols in metrics.items():
        f.accuracies([cols[m] for m in ("val_acc_200", "test_acc_200", "val_acc_12", "test_acc_12")], complete=True)
        f.check(cols["time_200"], complete=True, positive=True, what="training times (seconds)")
        for metric in ("params_mb", "flops_m", "latency_s"):
            f.check(cols[metric], positive=True, what=metric.split("_")[0])
        train = PREFIXES[ds][0]
        if f"{train}_n_seeds" in columns:
            f.check(f"{train}_n_seeds", 1, 3, integer=True, what="seed counts")
    f.accuracies([n for n in columns if "_acc" in n])
    for prefix in ("c100", "in16"):
        if f"{prefix}_valtest_acc_200" in columns:
            gap = np.abs(2 * columns[f"{prefix}_valtest_acc_200"] - columns[f"{prefix}_val_acc_200"]
                         - columns[f"{prefix}_test_acc_200"])
            if np.nanmax(gap) > 0.2:
                f.fail(f"{prefix}_valtest_acc_200 is not the mean of {prefix}_val_acc_200 and {prefix}_test_acc_200; "
                       "columns swapped?", int(np.nanargmax(gap)))
    return codes


def check_seeds(columns: Columns, path: Path, val_acc_200: dict[str, np.ndarray]) -> None:
    """Check ``nb201_seeds.csv.gz`` against the per-cell means of the archs file."""
    f = _File(columns, path)
    f.require("arch_index", "dataset", "seed_slot", "val_acc_200")
    index = f.check("arch_index", 0, N_ARCHS - 1, complete=True, integer=True, what="NB201 indices").astype(np.int64)
    slot = f.check("seed_slot", 0, 2, complete=True, integer=True, what="seed slots").astype(np.int64)
    names = columns["dataset"].astype(str)
    unknown = ~np.isin(names, list(SEED_DATASETS.values()))
    if unknown.any():
        f.fail(f"unknown dataset {str(names[np.argmax(unknown)])!r}; expected one of {', '.join(SEED_DATASETS.values())}",
               int(np.argmax(unknown)))
    dataset = np.searchsorted(sorted(SEED_DATASETS.values()), names)
    f.unique((dataset * N_ARCHS + index) * 3 + slot, "one dataset, cell and seed slot")
    val = f.check("val_acc_200", 0, 100, complete=True, what="accuracies (percent)")
    f.accuracies(["valtest_acc_200"])
    if "train_time_200_s" in columns:
        f.check("train_time_200_s", positive=True, what="training times (seconds)")
    for ds, name in SEED_DATASETS.items():
        rows = np.flatnonzero(names == name)
        mean = np.bincount(index[rows], val[rows], N_ARCHS) / np.maximum(np.bincount(index[rows], None, N_ARCHS), 1)
        gap = np.abs(mean - val_acc_200[ds])
        gap[np.bincount(index[rows], None, N_ARCHS) == 0] = 0
        if gap.max() > 1e-3:
            cell = int(np.argmax(gap))
            f.fail(f"the {name} runs of cell {cell} average {mean[cell]:.4f}, but the archs file says "
                   f"{val_acc_200[ds][cell]:.4f}; datasets or columns swapped?", int(rows[index[rows] == cell][0]))


def check_curves(columns: Columns, path: Path, test_acc_12: np.ndarray) -> None:
    """Check the CIFAR-10 12-epoch curves (rows in index order): epoch 12 is the archs file's 12-epoch test accuracy."""
    f = _File(columns, path)
    f.require(*(f"ep{e}" for e in range(1, 13)))
    f.accuracies([f"ep{e}" for e in range(1, 13)], complete=True)
    gap = np.abs(columns["ep12"] - test_acc_12)
    if gap.max() > 0.01:
        f.fail("ep12 differs from c10_test_acc_12 of the archs file; columns or rows swapped?", int(np.argmax(gap)))


def check_kd_curves(columns: Columns, path: Path) -> None:
    """Check the MF-KD authors' per-epoch NST runs."""
    f = _File(columns, path)
    f.require("arch_index", "epoch", "xvalid_acc", "xtest_acc", "train_time_s")
    index = f.check("arch_index", 0, N_ARCHS - 1, complete=True, integer=True, what="NB201 indices")
    epoch = f.check("epoch", 1, 12, complete=True, integer=True, what="epochs")
    f.unique(index.astype(np.int64) * 12 + epoch.astype(np.int64), "one cell and epoch")
    f.accuracies(["xvalid_acc"])
    f.accuracies(["xtest_acc"], complete=True)
    f.check("train_time_s", positive=True, what="training times (seconds)")


@cache
def _arch_strings() -> np.ndarray:
    """The official string of every cell code."""
    return np.array([str(Arch.from_code(c)) for c in range(N_ARCHS)])


def sorted_by_index(columns: Columns, path: Path) -> Columns:
    """The rows sorted by ``arch_index``, checked to hold each of the 15,625 NB201 indices exactly once."""
    f = _File(columns, path)
    f.require("arch_index")
    index = f.check("arch_index", complete=True, integer=True, what="NB201 indices")
    if np.array_equal(index, np.arange(N_ARCHS)):
        return columns
    order = np.argsort(index, kind="stable")
    if not np.array_equal(index[order], np.arange(N_ARCHS)):
        f.fail(f"does not hold exactly one row for each of the {N_ARCHS} NB201 indices")
    return {name: values[order] for name, values in columns.items()}
