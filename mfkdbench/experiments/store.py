"""The result store of ``mfkdbench compare``: one SQLite file per output folder.

Why SQLite (standard library) rather than one Parquet file per cell:

* **atomic, exactly once** -- each finished cell is one ``INSERT OR IGNORE``
  in its own transaction on a table whose primary key is the cell key, so a
  cell is either fully present or absent, and never twice, whatever is killed
  when (SQLite's journal rolls back half-written transactions on the next open);
* **concurrent writers** -- two ``compare`` processes on the same folder wait
  for each other's short write transactions (WAL mode, busy timeout) instead of
  racing on file renames;
* **no new dependency** -- Parquet needs pyarrow, a large binary package, for
  a few hundred small records.

A cell's :class:`~mfkdbench.search.simulator.Run` is stored as zlib-compressed JSON,
data frames column by column with their dtypes, so it reads back equal to the
run that was stored. The ``manifest`` table records what every cell shares
(data source and checksum, package version, benchmark, budget ...); each cell
row records its own configuration. The store lives on a local disk: SQLite's
WAL mode does not work on network file systems.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import sqlite3
import zlib
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

from mfkdbench.inputs import check_writable
from mfkdbench.errors import UserError

STORE_FILE = "results.sqlite"
#: ``PRAGMA application_id`` of the stores this project creates ("mfkd"); stores from before it carry 0
APPLICATION_ID = 0x6D666B64
#: the tables of a result store and their columns: a database with others is not adopted
TABLES = {"manifest": ["id", "body"], "cells": ["key", "optimizer", "seed", "config", "run", "wall_s"]}
_SCHEMA = (
    f"PRAGMA application_id = {APPLICATION_ID}",
    "CREATE TABLE manifest (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)",
    "CREATE TABLE cells (key TEXT PRIMARY KEY, optimizer TEXT NOT NULL, seed INTEGER NOT NULL, "
    "config TEXT NOT NULL, run BLOB NOT NULL, wall_s REAL NOT NULL)",
)


def _plain(value):
    """JSON encoder fallback for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a result record")


#: the :class:`~mfkdbench.search.simulator.Run` fields stored as ``{"__frame__": [[column, dtype, values], ...]}``,
#: under the names the stored records have always used
_FRAME_FIELDS = {"evaluation_columns": "evaluations", "incumbent_columns": "incumbents"}


def encode_run(run) -> bytes:
    """A :class:`~mfkdbench.search.simulator.Run` as compressed JSON (its columns with their dtypes)."""
    body = {}
    for f in dataclasses.fields(run):
        value = getattr(run, f.name)
        if f.name in _FRAME_FIELDS:
            body[_FRAME_FIELDS[f.name]] = {"__frame__": [[str(c), "str" if a.dtype.kind in "OUS" else str(a.dtype),
                                                           a.tolist()] for c, a in value.items()]}
        else:
            body[f.name] = value
    return zlib.compress(json.dumps(body, default=_plain, separators=(",", ":")).encode(), 6)


def decode_run(blob: bytes):
    """Inverse of :func:`encode_run`: a :class:`~mfkdbench.search.simulator.Run`."""
    from mfkdbench.search.simulator import Run

    body = json.loads(zlib.decompress(blob))
    for field, name in _FRAME_FIELDS.items():
        body[field] = {c: _column(dtype, values) for c, dtype, values in body.pop(name)["__frame__"]}
    return Run(**body)


def _column(dtype: str, values: list) -> np.ndarray:
    """A stored column as numpy; text columns (dtype ``str``, or pandas' names for it in older records) as str."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:  # "string", "str[pyarrow]": pandas' text dtypes
        dtype = np.dtype(str)
    if dtype.kind == "O":
        dtype = np.dtype(str)
    return np.array(values, dtype=dtype)


def _json(value) -> str:
    return json.dumps(value, default=_plain, sort_keys=True, separators=(",", ":"))


def check_result_folder(folder: str | Path) -> Path:
    """``folder`` if it may hold a result store, writing nothing; else one :class:`UserError` line.

    It may be new (below writable folders), empty, or hold this project's store
    (:func:`check_store_schema`); not a file, below a file, read-only, holding
    other files without a store, or holding another SQLite database.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"result folder {folder} is a file; give a new or empty folder")
    store = folder / STORE_FILE
    if store.exists() or store.is_symlink():
        if not store.is_file():
            raise UserError(f"{store} is not a file; give a new or empty result folder")
        with closing(_open(store, read_only=True)) as db:
            check_store_schema(db, store)
    elif folder.is_dir() and any(folder.iterdir()):
        raise UserError(f"result folder {folder} holds other files but no {STORE_FILE}; give a new or empty folder")
    check_writable(folder, f"result folder {folder}")
    return folder


def _open(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """A connection to ``path``; read-only ones never create the file or change its contents.

    Read-only is ``PRAGMA query_only`` on a connection that may not create the
    file (``mode=rw``) rather than ``mode=ro``: a ``mode=ro`` reader of a WAL
    database leaves ``-wal`` and ``-shm`` files behind, this one removes them on
    closing as every last connection does. A store the user may not write (its
    folder or file read-only: another user's, a read-only mount) is opened
    ``mode=ro``, and ``immutable`` when no ``-wal`` file shows a writer, since
    SQLite cannot make the ``-shm`` file a WAL reader needs there.
    """
    try:
        if read_only:
            uri = path.resolve().as_uri()
            if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
                uri += "?mode=rw"
            else:
                uri += "?mode=ro" if path.with_name(path.name + "-wal").exists() else "?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, timeout=60)
            db.execute("PRAGMA query_only = ON")
            return db
        return sqlite3.connect(path, timeout=60, isolation_level=None)
    except sqlite3.Error as exc:
        raise UserError(f"result store {path} cannot be opened ({exc}); give another folder") from None


def check_store_schema(db: sqlite3.Connection, path: Path) -> bool:
    """True if ``db`` holds this project's tables, False if it is empty; :class:`UserError` for any other
    database (its tables or application id differ) or a file that is no SQLite database."""
    try:
        app = db.execute("PRAGMA application_id").fetchone()[0]
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        tables = {n: [c for (c,) in db.execute("SELECT name FROM pragma_table_info(?)", (n,))] for n in names}
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} is not a readable SQLite result store ({exc}); move it away or give another "
                        "folder") from None
    if app not in (0, APPLICATION_ID) or tables not in ({}, TABLES):
        found = ", ".join(names) or "no tables"
        raise UserError(f"{path} is an SQLite database of something else (application id {app}, tables: {found}), "
                        "not an mfkdbench result store; give another folder")
    return bool(tables)


class ResultStore:
    """Finished cells of one comparison, kept in ``<folder>/results.sqlite``."""

    def __init__(self, folder: str | Path, create: bool = True):
        """``create=False``: open an existing store read-only (never creating a file or a table in it);
        ``create=True``: adopt the folder only if :func:`check_result_folder` allows it."""
        self.path = Path(folder) / STORE_FILE
        if not create:
            if not self.path.is_file():
                raise UserError(f"no results in {folder}: expected {self.path} (written by 'mfkdbench compare')")
            self._db = _open(self.path, read_only=True)
            if not check_store_schema(self._db, self.path):
                self._db.close()
                raise UserError(f"no finished cells in {self.path}")
            return
        check_result_folder(folder)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the result folder {folder} ({exc.strerror}); give another folder") from None
        self._db = _open(self.path)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")  # a concurrent creator sees no half-made schema
            try:
                if not check_store_schema(self._db, self.path):
                    for statement in _SCHEMA:
                        self._db.execute(statement)
            finally:
                self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise UserError(f"result store {self.path} is unreadable or not writable ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def _sql(self, statement: str, parameters: tuple = ()) -> list[tuple]:
        """The rows of ``statement``; :class:`UserError` for a damaged store (a flipped byte) or a failed write."""
        try:
            return self._db.execute(statement, parameters).fetchall()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"result store {self.path} is damaged or cannot be written ({exc}); move the folder "
                            "away and run into a new one") from None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- manifest ---------------------------------------------------------
    def manifest(self) -> dict | None:
        """The stored manifest, None before the first :meth:`claim`; :class:`UserError` if it is corrupt."""
        rows = self._sql("SELECT body FROM manifest")
        if not rows:
            return None
        row = rows[0]
        try:
            body = json.loads(row[0])
        except (ValueError, TypeError):  # not JSON, or bytes that are not UTF-8
            body = None
        if not isinstance(body, dict):
            raise UserError(f"result store {self.path} has a corrupt manifest (not a JSON object); "
                            "move the folder away and run into a new one")
        return body

    def claim(self, manifest: dict, ignore: tuple[str, ...] = ()) -> None:
        """Record ``manifest`` in an empty store, or check that it equals the stored one but for ``ignore``.

        Raises :class:`UserError` naming the first differing entries, and writes nothing, on a mismatch.
        """
        manifest = json.loads(_json(manifest))
        self._sql("BEGIN IMMEDIATE")
        try:
            stored = self.manifest()
            if stored is None:
                self._sql("INSERT INTO manifest (id, body) VALUES (1, ?)", (_json(manifest),))
                diff = []
            else:
                diff = [f"{k}: stored {stored.get(k)!r}, now {manifest.get(k)!r}"
                        for k in sorted(set(stored) | set(manifest))
                        if k not in ignore and stored.get(k) != manifest.get(k)]
        finally:
            self._sql("COMMIT")
        if diff:
            raise UserError(f"{self.path.parent} holds results of other data or settings ({'; '.join(diff[:3])}); "
                            "choose another --out folder")

    # ---- cells ------------------------------------------------------------
    def keys(self) -> set[str]:
        return {k for (k,) in self._sql("SELECT key FROM cells")}

    def has(self, key: str) -> bool:
        return bool(self._sql("SELECT 1 FROM cells WHERE key = ?", (key,)))

    def put(self, key: str, optimizer: str, seed: int, config: dict, run_blob: bytes, wall_s: float) -> bool:
        """Store one finished cell atomically; ``False`` if it was already there (kept as it was)."""
        before = self._db.total_changes
        self._sql("INSERT OR IGNORE INTO cells (key, optimizer, seed, config, run, wall_s) VALUES (?, ?, ?, ?, ?, ?)",
                  (key, optimizer, int(seed), _json(config), run_blob, float(wall_s)))
        return self._db.total_changes == before + 1

    def optimizers(self) -> set[str]:
        return {name for (name,) in self._sql("SELECT DISTINCT optimizer FROM cells")}

    def configs(self) -> dict[str, dict]:
        return {k: json.loads(c) for k, c in self._sql("SELECT key, config FROM cells")}

    def runs(self) -> list:
        """Every stored run, ordered by optimizer then seed."""
        rows = self._sql("SELECT run FROM cells ORDER BY optimizer, seed")
        try:
            return [decode_run(blob) for (blob,) in rows]
        except (zlib.error, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise UserError(f"result store {self.path} holds a corrupt record ({exc})") from None

    def wall_times(self) -> pd.DataFrame:
        return pd.DataFrame(self._sql("SELECT optimizer, seed, wall_s FROM cells"),
                            columns=["optimizer", "seed", "wall_s"])


class CellClaims:
    """The cells a ``compare`` process runs now, as byte-range locks on ``<store>.claims``: another process on
    the same folder skips them (and takes other cells), and the OS drops them when the process ends or dies."""

    def __init__(self, store_path: Path):
        self.path = store_path.with_name(store_path.name + ".claims")
        try:
            self._file = open(self.path, "ab")
        except OSError as exc:
            raise UserError(f"cannot write {self.path} ({exc.strerror}); give another folder") from None

    @staticmethod
    def _offset(key: str) -> int:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big")

    def take(self, key: str, wait: bool = False) -> bool:
        """Claim ``key``; False if another process holds it (with ``wait``: block until it is free)."""
        try:
            fcntl.lockf(self._file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB), 1, self._offset(key))
        except OSError:  # EAGAIN or EACCES: held elsewhere
            return False
        return True

    def release(self, key: str) -> None:
        fcntl.lockf(self._file, fcntl.LOCK_UN, 1, self._offset(key))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CellClaims:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
