"""The column files of the shipped tables: one ``.npz`` per source CSV, written byte for byte reproducibly.

A file holds one ``.npy`` member per CSV column, rows in the CSV's order.
Numbers keep their value exactly (integers in the smallest integer type that
holds them, other numbers as float64); a text column is stored as UTF-8 bytes,
or, where few values repeat over many rows, as ``<column>@codes`` (uint8 or
uint16) plus ``<column>@categories``. An empty CSV field is NaN in a numeric
column and the empty string in a text column.

Members are sorted by name and carry a fixed timestamp and mode, so the same
columns always give the same bytes (with the same zlib). Files the simulator
reads on every load are stored uncompressed (the wheel and git deflate them
anyway, and inflating costs more time than reading); the others are deflated.
Any ``.npz`` reader opens them (``numpy.load``); the simulator maps the stored
members straight from the file instead (:func:`mapped_columns`), by the byte
offsets, dtypes and shapes that :func:`layout` records in the manifest.
"""
from __future__ import annotations

import io
import mmap
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError

CODES, CATEGORIES = "@codes", "@categories"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def encode(values: np.ndarray) -> dict[str, np.ndarray]:
    """Members for one column (numbers as they are, text as bytes or categories)."""
    if values.dtype.kind in "iu" and values.size:
        return {"": values.astype(next(t for t in (np.int8, np.int16, np.int32, np.int64)
                                       if np.iinfo(t).min <= values.min() and values.max() <= np.iinfo(t).max))}
    if values.dtype.kind in "fiub":
        return {"": values.astype(np.float64)}
    text = np.array(["" if v is None or v != v else str(v) for v in values], dtype=object)
    categories, codes = np.unique(text.astype(str), return_inverse=True)
    if len(categories) <= min(len(text) // 4, 65535):
        return {CODES: codes.astype(np.uint8 if len(categories) <= 256 else np.uint16),
                CATEGORIES: np.char.encode(categories, "utf-8")}
    return {"": np.char.encode(text.astype(str), "utf-8")}


def write_columns(path: Path, columns: dict[str, np.ndarray], compress: bool) -> None:
    """Write ``columns`` (already encoded members, ``name -> array``) to ``path`` reproducibly."""
    with zipfile.ZipFile(path, "w") as zf:
        for name in sorted(columns):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(columns[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, buf.getvalue(), compresslevel=9 if compress else None)


def read_columns(path: Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Decoded columns of a file (all, or ``names``); text comes back as str."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = {m[:-4]: m for m in zf.namelist()}
            wanted = names if names is not None else sorted(
                {m.removesuffix(CODES).removesuffix(CATEGORIES) for m in members})
            out = {}
            for name in wanted:
                if name in members:
                    out[name] = _text(_array(zf, members[name]))
                elif name + CODES in members:
                    out[name] = _text(_array(zf, members[name + CATEGORIES]))[_array(zf, members[name + CODES])]
                else:
                    raise UserError(f"table file {path} has no column {name!r}")
            return out
    except (OSError, zipfile.BadZipFile, zlib.error, ValueError, EOFError) as exc:
        raise UserError(f"table file {path} is unreadable or corrupt ({exc})") from None


def _text(values: np.ndarray) -> np.ndarray:
    return np.char.decode(values, "utf-8") if values.dtype.kind == "S" else values


def _array(zf: zipfile.ZipFile, member: str) -> np.ndarray:
    with zf.open(member) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def layout(path: Path) -> dict[str, list]:
    """Per stored (uncompressed) member: ``[byte offset of its data in the file, dtype, shape]``."""
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                continue
            raw.seek(info.header_offset)
            name_len, extra_len = struct.unpack("<HH", raw.read(30)[26:30])
            member = io.BytesIO(zf.read(info))
            version = np.lib.format.read_magic(member)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                     else np.lib.format.read_array_header_2_0)(member)
            if fortran or dtype.hasobject:
                raise ValueError(f"{path}: member {info.filename} is not a plain C-ordered array")
            out[info.filename[:-4]] = [info.header_offset + 30 + name_len + extra_len + member.tell(),
                                       dtype.str, list(shape)]
    return out


def mapped_columns(path: Path, members: dict[str, list], names: list[str]) -> dict[str, np.ndarray]:
    """Columns ``names`` of a file with stored members, read-only views of the memory-mapped file."""
    try:
        with open(path, "rb") as fh:
            buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise UserError(f"table file {path} is unreadable ({exc}); reinstall mfkdbench") from None

    def member(name: str) -> np.ndarray:
        offset, dtype, shape = members[name]
        return np.frombuffer(buffer, dtype, int(np.prod(shape)), offset).reshape(shape)

    out = {}
    for name in names:
        if name in members:
            out[name] = _text(member(name))
        elif name + CODES in members:
            out[name] = _text(member(name + CATEGORIES))[member(name + CODES)]
        else:
            raise UserError(f"table file {path} has no column {name!r}; reinstall mfkdbench")
    return out
