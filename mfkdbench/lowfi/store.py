"""Append-only store of low-fidelity training results (no torch).

One JSON line per run: ``{"record": {...}, "sha256": <16 hex of the record>}``.
A file is adopted as a store only if it is new, empty or recognisably one: some
line is a record with its checksum, or the file is one line cut short that
starts as a record line does (a first write killed); any other file is refused
and never changed. Each append takes an exclusive ``flock``, re-reads what
other writers added, cuts off a torn tail left by a killed writer (only a tail
that starts as a record line does), writes one line and ``fsync``s it. On
reading, a line without its trailing newline (a write cut short) is ignored, and
lines whose checksum does not match are skipped with one warning. A line whose
checksum matches but whose record is malformed (:func:`record_problem`: an
index outside 0..15624, a wrong type, a curve of the wrong length) stops the
read with one line naming it. A finished run with a non-finite accuracy or
time counts as failed, so it never enters a cost calibration. A run's key
(:func:`run_key`) is stored at most once.

:meth:`LowFiStore.arrays` gives the same columns as the MF-KD authors' table
(``nst12_val``, ``nst12_test``, ``nst12_time``, ``nst12_curve_val`` in
:mod:`mfkdbench.nb201.tables`, under the keys ``val``, ``test``, ``time``,
``curve_val``), so both plug into the same low-fidelity interface.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import N_ARCHS

KEY_FIELDS = ("arch_index", "dataset", "loss", "epochs", "fraction", "teacher_hash", "seed", "channels", "cells")


#: NB201 datasets whose validation images are half of the test set; NB201's own split file keeps them apart from
#: the other half, the report's x-test images (a seeded half split does not): dataset -> that split file
VALIDATION_FROM_TEST = {"cifar100": "cifar100-test-split.txt", "imagenet16-120": "imagenet-16-120-test-split.txt"}


def check_search_split(dataset: str, split: str | None) -> None:
    """:class:`UserError` if runs on ``dataset`` with the validation ``split`` (``"nb201"`` or ``"seeded"``, a
    record's ``split``) validate on images of the report split, so that no search may be scored by them."""
    if dataset in VALIDATION_FROM_TEST and split == "seeded":
        raise UserError(f"the {dataset} runs validate on a seeded half of the test set, which overlaps NB201's "
                        f"x-test images (the report metric), so no search may use them: put NB201's split file "
                        f"{VALIDATION_FROM_TEST[dataset]} in --data-dir and train again")


def run_key(record: dict) -> tuple:
    """The identity of a run: architecture, dataset, loss, epochs, data fraction, teacher, seed, net size."""
    return tuple(record[k] for k in KEY_FIELDS)


def default_store_path() -> Path:
    """``$MFKDBENCH_LOWFI``, else ``$XDG_DATA_HOME/mfkdbench/lowfi.jsonl`` (``~/.local/share`` by default)."""
    if os.environ.get("MFKDBENCH_LOWFI"):
        return Path(os.environ["MFKDBENCH_LOWFI"])
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "mfkdbench" / "lowfi.jsonl"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def record_problem(record) -> str | None:
    """What is wrong with a stored run record, or None (the fields :meth:`LowFiStore.arrays` and
    :func:`run_key` read, with their types and ranges; a finished run's curve has ``epochs`` points)."""
    if not isinstance(record, dict):
        return "the record is not a JSON object"
    missing = [k for k in (*KEY_FIELDS, "status", "curve") if k not in record]
    if missing:
        return f"missing {', '.join(missing)}"
    index, epochs, fraction = record["arch_index"], record["epochs"], record["fraction"]
    if not _is_int(index) or not 0 <= index < N_ARCHS:
        return f"arch_index {index!r} is not an NB201 index in 0..{N_ARCHS - 1}"
    for name in ("epochs", "channels", "cells"):
        if not _is_int(record[name]) or record[name] < 1:
            return f"{name} {record[name]!r} is not a positive integer"
    if not _is_int(record["seed"]) or record["seed"] < 0:
        return f"seed {record['seed']!r} is not a non-negative integer"
    if not _is_number(fraction) or not 0 < fraction <= 1:
        return f"fraction {fraction!r} is not a number in (0, 1]"
    for name in ("dataset", "loss"):
        if not isinstance(record[name], str):
            return f"{name} {record[name]!r} is not a string"
    if not (record["teacher_hash"] is None or isinstance(record["teacher_hash"], str)):
        return f"teacher_hash {record['teacher_hash']!r} is not a string or null"
    if record["status"] not in ("ok", "failed"):
        return f"status {record['status']!r} is neither 'ok' nor 'failed'"
    curve = record["curve"]
    if not isinstance(curve, dict) or not all(isinstance(curve.get(k), list) and all(map(_is_number, curve[k]))
                                              for k in ("val_acc", "train_time_s")):
        return "curve lacks lists of numbers val_acc and train_time_s"
    if record["status"] == "ok":
        if not _is_number(record.get("test_acc")):
            return f"test_acc {record.get('test_acc')!r} is not a number"
        lengths = {len(curve["val_acc"]), len(curve["train_time_s"])}
        if lengths != {epochs}:
            return f"a finished {epochs}-epoch run has a curve of {' and '.join(map(str, sorted(lengths)))} points"
    return None


def finished(record: dict) -> bool:
    """A run that ended well, with finite accuracies and finite, non-negative training times."""
    curve = record["curve"]
    return (record["status"] == "ok" and math.isfinite(record["test_acc"])
            and all(map(math.isfinite, curve["val_acc"]))
            and all(math.isfinite(t) and t >= 0 for t in curve["train_time_s"]))


#: how every store line begins: ``json.dumps`` with sorted keys of ``{"record": ..., "sha256": ...}``
LINE_START = b'{"record": '


def _line_start(tail: bytes) -> bool:
    """Whether ``tail``, a last line without its newline, may be a store line cut short."""
    return tail[:len(LINE_START)] == LINE_START[:len(tail)]


def _digest(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class LowFiStore:
    """A JSON-lines file of run records, read incrementally, appended crash-safely."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise UserError(f"low-fidelity store {self.path} is a directory; give a file path")
        if self.path.exists() and not self.path.is_file():
            raise UserError(f"low-fidelity store {self.path} is not a regular file; give a file path")
        self._records: list[dict] = []
        self._by_key: dict[tuple, dict] = {}
        self._offset = 0  # bytes of complete lines read so far
        self._lines = 0  # complete lines read so far
        self._checked = 0  # lines read so far whose checksum matched
        self._refresh()

    def _refresh(self) -> None:
        """Read complete lines appended since the last read; :class:`UserError`, before any warning, for a file
        that is no store or ends in a line that no store writer began."""
        if not self.path.is_file():
            return
        corrupt, tail = [], b""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                for line in fh:
                    if not line.endswith(b"\n"):
                        tail = line  # a torn tail: not a record
                        break
                    self._offset += len(line)
                    self._lines += 1
                    if not self._add(line):
                        corrupt.append(self._lines)
        except OSError as exc:
            raise UserError(f"cannot read the low-fidelity store {self.path} ({exc.strerror})") from None
        if not self._checked and (corrupt or not _line_start(tail)):
            raise UserError(f"{self.path} is not a low-fidelity store (no line is a checksummed run record), so it "
                            "is left unchanged; give another path")
        if not _line_start(tail):
            raise UserError(f"low-fidelity store {self.path} ends in a line that no store writer began, so it is "
                            "left unchanged; remove that line or give another path")
        if corrupt:
            shown = ", ".join(map(str, corrupt[:5])) + (", ..." if len(corrupt) > 5 else "")
            warnings.warn(f"skipping {len(corrupt)} corrupt line(s) (line {shown}) in the low-fidelity store "
                          f"{self.path}", stacklevel=3)

    def _add(self, line: bytes) -> bool:
        """Read one complete line; False if it is corrupt (its checksum does not match)."""
        try:
            entry = json.loads(line)
            record = entry["record"]
            ok = entry["sha256"] == _digest(record)
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            return False
        self._checked += 1
        problem = record_problem(record)
        if problem is not None:
            raise UserError(f"low-fidelity store {self.path}, line {self._lines}: {problem}; "
                            "delete or correct that line")
        key = run_key(record)
        if key not in self._by_key:
            self._by_key[key] = record
            self._records.append(record)
        return True

    def __contains__(self, key: tuple) -> bool:
        return key in self._by_key

    def get(self, key: tuple) -> dict | None:
        """The record of the run ``key``, reading what other writers appended if it is not known yet; else None."""
        if key not in self._by_key:
            self._refresh()
        return self._by_key.get(key)

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[dict]:
        """All stored records, in the order they were written."""
        self._refresh()
        return list(self._records)

    def append(self, record: dict) -> bool:
        """Store ``record`` unless its key is already there; True if it was written."""
        problem = record_problem(record)
        if problem is not None:
            raise UserError(f"refusing to store a malformed run record in {self.path}: {problem}")
        key = run_key(record)
        line = (json.dumps({"record": record, "sha256": _digest(record)}, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self._refresh()
                if key in self._by_key:
                    return False
                if os.fstat(fh.fileno()).st_size > self._offset:
                    os.truncate(self.path, self._offset)  # a torn tail of a store line (checked by _refresh)
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
                self._offset += len(line)
                self._lines += 1
                self._checked += 1
                self._by_key[key] = record
                self._records.append(record)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return True

    def arrays(self, dataset: str, loss: str, epochs: int, teacher_hash: str | None = None,
               fraction: float = 1.0, channels: int = 16, cells: int = 5) -> dict[str, np.ndarray]:
        """Columns over the 15,625 NB201 indices, NaN where nothing is stored.

        ``val`` / ``test``: final validation / test accuracy; ``time``: summed
        training seconds; ``curve_val``: validation accuracy per epoch;
        ``failed``: runs that ended as failed evaluations (their accuracies are
        NaN). Several seeds are averaged. With ``teacher_hash=None`` the runs
        must come from a single teacher.
        """
        rows = [r for r in self.records() if r["dataset"] == dataset and r["loss"] == loss and r["epochs"] == epochs
                and r["fraction"] == fraction and r["channels"] == channels and r["cells"] == cells
                and (teacher_hash is None or r["teacher_hash"] == teacher_hash)]
        for r in rows:
            check_search_split(r["dataset"], r.get("split"))
        teachers = {r["teacher_hash"] for r in rows}
        if len(teachers) > 1:
            raise UserError(f"the store holds {dataset}/{loss} runs from several teachers ({', '.join(sorted(map(str, teachers)))}); pick one")
        sums = {k: np.zeros((N_ARCHS,) + ((epochs,) if k == "curve_val" else ())) for k in ("val", "test", "time", "curve_val")}
        count = np.zeros(N_ARCHS)
        failed = np.zeros(N_ARCHS, dtype=bool)
        for r in rows:
            i = r["arch_index"]
            if not finished(r):
                failed[i] = True
                continue
            count[i] += 1
            sums["val"][i] += r["curve"]["val_acc"][-1]
            sums["test"][i] += r["test_acc"]
            sums["time"][i] += sum(r["curve"]["train_time_s"])
            sums["curve_val"][i] += r["curve"]["val_acc"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = {k: (v / (count if v.ndim == 1 else count[:, None])) for k, v in sums.items()}
        out["failed"] = failed & (count == 0)
        return out
