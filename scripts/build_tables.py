"""Build the shipped tables, ``tables/*.npz`` and ``tables/MANIFEST.json``, from the compact NB201 CSVs.

Usage: ``python scripts/build_tables.py [DATA_DIR] [--out DIR]`` (defaults: ``../shared/data``, ``tables/``).

Every column of every CSV below becomes one column file (:mod:`mfkdbench.nb201.tablefile`).
The files the simulator reads are first checked against the schema
(:mod:`mfkdbench.nb201.schema`); each written file is read back and compared,
value for value, with its CSV parsed again by the standard library's ``csv``
and ``float``, and the build fails on the first difference. The manifest
records each file's SHA-256, size, rows, columns (in CSV order) and its source
with the source's SHA-256. The same CSVs give the same bytes.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError
from mfkdbench.nb201.tablefile import encode, layout, read_columns, write_columns
from mfkdbench.nb201.tables import CSV_FILES, MANIFEST, _load_csv_dir, read_csv_columns

REPO = Path(__file__).resolve().parents[1]
#: source CSVs (relative to DATA_DIR) the simulator does not read: analysis only, stored deflated
ANALYSIS_FILES = (
    "nb201/nb201_c10v_hp200_curves_subset200.csv.gz",
    "nb201/nb201_latency_ms_help.csv.gz",
    "nb201/nb201_zc_naslib_subset.csv.gz",
    "nb201/nb201_zc_subset200_c10.csv.gz",
    "nb201-kd/nb201_kd_nst_c100_final.csv.gz",
    "nb201-kd/nb201_kd_teachers_curves.csv.gz",
)


def build(data: Path, out: Path) -> dict:
    """Write the tables of ``data`` into ``out``; the manifest."""
    _load_csv_dir(data)  # the schema check of the files the simulator reads
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for rel, compress in [(rel, False) for rel in CSV_FILES.values()] + [(rel, True) for rel in ANALYSIS_FILES]:
        source = data / rel
        columns = read_csv_columns(source)
        members = {name + suffix: array for name, values in columns.items() for suffix, array in encode(values).items()}
        stem = source.name.removesuffix(".csv.gz")
        path = out / f"{stem}.npz"
        write_columns(path, members, compress)
        rows = check_round_trip(source, path)
        files[stem] = {"source": rel, "source_sha256": sha256(source), "sha256": sha256(path),
                       "bytes": path.stat().st_size, "rows": rows, "columns": list(columns), "compressed": compress}
        if not compress:
            files[stem]["members"] = layout(path)
    manifest = {"format": 1, "files": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def check_round_trip(source: Path, path: Path) -> int:
    """Compare every stored value with the CSV's text; the number of rows. Raises on the first difference."""
    with gzip.open(source, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    stored = read_columns(path)
    if sorted(stored) != sorted(header):
        raise UserError(f"{path} holds columns {sorted(stored)}, {source} has {sorted(header)}")
    for j, name in enumerate(header):
        texts, values = [row[j] for row in rows], stored[name]
        if values.dtype.kind in "iu":
            expected = np.array([int(t) for t in texts], dtype=np.int64)
        elif values.dtype.kind == "f":
            expected = np.array([float(t) if t else np.nan for t in texts])
        else:
            expected = np.array(texts, dtype=str)
        same = np.array_equal(expected, values, equal_nan=values.dtype.kind == "f") and len(values) == len(texts)
        if not same:
            raise UserError(f"{path}: column {name!r} differs from {source} after the round trip")
    return len(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "tables")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.data, args.out)
    except UserError as exc:
        sys.exit(f"error: {exc}")
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"wrote {len(manifest['files'])} tables, {total / 2**20:.2f} MiB, to {args.out} (round trip checked)")


if __name__ == "__main__":
    main()
