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
import json
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from mfkdbench.errors import UserError

STORE_FILE = "results.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, optimizer TEXT NOT NULL, seed INTEGER NOT NULL,
    config TEXT NOT NULL, run BLOB NOT NULL, wall_s REAL NOT NULL);
"""


def _plain(value):
    """JSON encoder fallback for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a result record")


def encode_run(run) -> bytes:
    """A run dataclass as compressed JSON (data frames column by column, with dtypes)."""
    body = {}
    for f in dataclasses.fields(run):
        value = getattr(run, f.name)
        if isinstance(value, pd.DataFrame):
            value = {"__frame__": [[str(c), str(value[c].dtype), value[c].tolist()] for c in value.columns]}
        body[f.name] = value
    return zlib.compress(json.dumps(body, default=_plain, separators=(",", ":")).encode(), 6)


def decode_run(blob: bytes):
    """Inverse of :func:`encode_run`: a :class:`~mfkdbench.search.simulator.Run`."""
    from mfkdbench.search.simulator import Run

    body = json.loads(zlib.decompress(blob))
    for name, value in body.items():
        if isinstance(value, dict) and "__frame__" in value:
            body[name] = pd.DataFrame({c: _column(dtype, values) for c, dtype, values in value["__frame__"]})
    return Run(**body)


def _column(dtype: str, values: list):
    try:
        return np.asarray(values, dtype=np.dtype(dtype))
    except TypeError:  # pandas extension dtypes (strings): let pandas infer them again
        return pd.Series(values, dtype=dtype if dtype != "object" else None)


def _json(value) -> str:
    return json.dumps(value, default=_plain, sort_keys=True, separators=(",", ":"))


class ResultStore:
    """Finished cells of one comparison, kept in ``<folder>/results.sqlite``."""

    def __init__(self, folder: str | Path, create: bool = True):
        self.path = Path(folder) / STORE_FILE
        if not create and not self.path.is_file():
            raise UserError(f"no results in {folder}: expected {self.path} (written by 'mfkdbench compare')")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"result store {self.path} is unreadable ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- manifest ---------------------------------------------------------
    def manifest(self) -> dict | None:
        row = self._db.execute("SELECT body FROM manifest").fetchone()
        return json.loads(row[0]) if row else None

    def claim(self, manifest: dict, ignore: tuple[str, ...] = ()) -> None:
        """Record ``manifest`` in an empty store, or check that it equals the stored one but for ``ignore``.

        Raises :class:`UserError` naming the first differing entries, and writes nothing, on a mismatch.
        """
        manifest = json.loads(_json(manifest))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            stored = self.manifest()
            if stored is None:
                self._db.execute("INSERT INTO manifest (id, body) VALUES (1, ?)", (_json(manifest),))
                diff = []
            else:
                diff = [f"{k}: stored {stored.get(k)!r}, now {manifest.get(k)!r}"
                        for k in sorted(set(stored) | set(manifest))
                        if k not in ignore and stored.get(k) != manifest.get(k)]
        finally:
            self._db.execute("COMMIT")
        if diff:
            raise UserError(f"{self.path.parent} holds results of other data or settings ({'; '.join(diff[:3])}); "
                            "choose another --out folder")

    # ---- cells ------------------------------------------------------------
    def keys(self) -> set[str]:
        return {k for (k,) in self._db.execute("SELECT key FROM cells")}

    def put(self, key: str, optimizer: str, seed: int, config: dict, run_blob: bytes, wall_s: float) -> bool:
        """Store one finished cell atomically; ``False`` if it was already there (kept as it was)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO cells (key, optimizer, seed, config, run, wall_s) VALUES (?, ?, ?, ?, ?, ?)",
            (key, optimizer, int(seed), _json(config), run_blob, float(wall_s)))
        return cur.rowcount == 1

    def configs(self) -> dict[str, dict]:
        return {k: json.loads(c) for k, c in self._db.execute("SELECT key, config FROM cells")}

    def runs(self) -> list:
        """Every stored run, ordered by optimizer then seed."""
        rows = self._db.execute("SELECT run FROM cells ORDER BY optimizer, seed").fetchall()
        try:
            return [decode_run(blob) for (blob,) in rows]
        except (zlib.error, ValueError, TypeError) as exc:
            raise UserError(f"result store {self.path} holds a corrupt record ({exc})") from None

    def wall_times(self) -> pd.DataFrame:
        return pd.DataFrame(self._db.execute("SELECT optimizer, seed, wall_s FROM cells").fetchall(),
                            columns=["optimizer", "seed", "wall_s"])
