"""Inputs checked at the door: the largest values the commands accept, and checks of the paths a user gives.

The limits: beyond them a command would run for days or exhaust memory. Each is
far above the published protocols (NB201 and NATS-Bench use up to 500 seeds,
one worker and 200 training epochs), so only typos and misunderstandings meet
them; ``--help`` and the README name them. Paths are checked before anything
is written there.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from mfkdbench.errors import UserError

#: seeds of numpy and torch generators: 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1
#: seeds per optimizer in one comparison
MAX_SEEDS = 10_000
#: local processes running cells (each holds a copy of the tables)
MAX_PROCESSES = 256
#: asynchronous workers inside one simulated search
MAX_SIM_WORKERS = 1_000
#: evaluations of one simulated search that a time budget may buy, estimated at the target fidelity's
#: median cost (more than the 15,625 cells)
MAX_EVALUATIONS = 20_000
#: training epochs of a student or a teacher (NB201's full schedule is 200)
MAX_EPOCHS = 1_000
#: bootstrap resamples of the correlation study
MAX_BOOTSTRAP = 100_000


def check_output_folder(folder: str | Path, what: str, files: tuple[str, ...] = ()) -> Path:
    """``folder`` if the outputs ``what`` may be written there (it is a folder, or can be made one, in which files
    can be made, and none of the file names ``files`` in it is a folder); else one :class:`UserError` line.
    Writes nothing."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} {folder} is a file; give a folder")
    check_writable(folder, f"{what} {folder}")
    for name in files:
        if (folder / name).is_dir():
            raise UserError(f"{what}: {folder / name} is a folder where a file goes; move it away")
    return folder


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
