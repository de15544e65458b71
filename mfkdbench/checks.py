"""Checks of a path a user gives, made before anything is written there."""
from __future__ import annotations

import tempfile
from pathlib import Path

from mfkdbench.errors import UserError


def check_writable(path: str | Path, what: str) -> None:
    """:class:`UserError` unless ``path`` (a file or folder, existing or not) can be written: its nearest
    existing ancestor is a folder in which a file can be made. ``what`` names it (``"result folder X"``).

    A file that vanishes on closing is tried, as ``os.access`` is no answer for root.
    """
    path = Path(path)
    existing = next(p for p in (path, *path.parents) if p.exists())
    if existing != path and not existing.is_dir():
        raise UserError(f"{what} lies below {existing}, which is a file; give another path")
    folder = existing if existing.is_dir() else existing.parent
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise UserError(f"cannot write {what}: {folder} is not writable ({exc.strerror}); give another path") from None
